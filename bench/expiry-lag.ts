/**
 * Expiry lag: how late a grant is really taken away. Grants are seeded 'active' with their revoke
 * work due across a window, and a running server (real clock, default sweep) revokes them on its
 * own; lag = revoked_at - expires_at per grant, read back from the rows, so it covers the whole
 * path (timer, claim, expire transition, target revoke + verify, final transition).
 */
import { sql } from 'kysely';
import { fakeTargetState } from '../src/connectors/fake/fake-connector.js';
import { startTimebox } from '../src/server/start.js';
import { ENTITLEMENT, seedActiveGrants, seededUsername } from './seed.js';
import { benchLogger, say, serverEnv, setupTenant } from './setup.js';
import { summarize, type Summary } from './stats.js';

export interface ExpiryLagOptions {
  store: 'pglite' | 'postgres';
  /** PostgreSQL URL, or the PGlite data folder. */
  databaseUrl?: string;
  dataDir?: string;
  grants: number;
  /** Expiries are spread over this window ... */
  windowMs: number;
  /** ... which opens this long after the server is ready (time to set up and seed). */
  leadMs: number;
  /** Give up this long after the window closes. */
  graceMs: number;
}

export interface ExpiryLagResult {
  store: string;
  grants: number;
  revoked: number;
  lagMs: Summary;
  setupMs: number;
  seedMs: number;
  /** Time between seeding done and the first expiry; negative means the first grants were overdue. */
  slackMs: number;
  /** Revocations per second while the window was open (expiries arrive at grants / window). */
  offeredPerSecond: number;
  /** Calls the fake target saw, and accounts left enabled on it: proof the revocations did real work. */
  targetRevokeCalls: number;
  targetAccountsStillEnabled: number;
  /** p50 lag per tenth of the window: flat means a fixed delay, rising means a growing backlog. */
  p50ByTenthMs: number[];
  /** Revocations per second achieved, first expiry to last revocation. */
  achievedPerSecond: number;
  /** First expiry to the last grant revoked and verified: for a burst, the time to drain it. */
  drainMs: number;
  timedOut: boolean;
}

export async function measureExpiryLag(o: ExpiryLagOptions): Promise<ExpiryLagResult> {
  const env = serverEnv(o.databaseUrl ? { DATABASE_URL: o.databaseUrl } : { TIMEBOX_DATA_DIR: o.dataDir! });
  const tb = await startTimebox({ env, logger: benchLogger() });
  try {
    const readyAt = Date.now();
    const t = await setupTenant(tb.url, tb.bootstrap, { maxDurationSeconds: 3600 });
    const setupMs = Date.now() - readyAt;
    const expiresFrom = new Date(readyAt + o.leadMs);
    const tag = 'lag';

    const seedStart = Date.now();
    await seedActiveGrants(tb.store.db, {
      ...t,
      tag,
      count: o.grants,
      expiresFrom,
      spanMs: o.windowMs,
      durationSeconds: 600,
      chunk: 5_000,
    });
    const seedMs = Date.now() - seedStart;
    const slackMs = expiresFrom.getTime() - Date.now();
    if (slackMs < 0) say(`warning: seeding ended ${-slackMs} ms after the first expiry; early lags include that`);

    // The accounts exist on the fake target with a live session, so revoke and verify have
    // something to disable, end and check, as on a real target.
    const state = fakeTargetState(t.instance);
    const stepMs = o.windowMs / o.grants;
    for (let i = 1; i <= o.grants; i++) {
      state.accounts.set(seededUsername(tag, i), {
        enabled: true,
        managed: true,
        entitlements: new Set([ENTITLEMENT]),
        password: 'seeded-password',
        validUntil: new Date(expiresFrom.getTime() + (i - 1) * stepMs),
        sessions: 1,
      });
    }
    // The rows were written behind the scheduler's back (as another process would); its periodic
    // sweep would find them too, this only saves waiting for it.
    tb.scheduler.poke();
    say(`${o.store}: ${o.grants} grants seeded in ${seedMs} ms; expiring over ${o.windowMs / 1000} s from ${slackMs} ms from now`);

    // Polling once a second is coarse, but lag is computed from the rows, not from this loop.
    const deadline = expiresFrom.getTime() + o.windowMs + o.graceMs;
    let revoked = 0;
    let timedOut = false;
    for (;;) {
      const r = await sql<{ n: string }>`SELECT count(*) AS n FROM grants WHERE tenant_id = ${t.tenantId}::uuid AND state = 'revoked'`.execute(tb.store.db);
      revoked = Number(r.rows[0]!.n);
      if (revoked >= o.grants) break;
      if (Date.now() > deadline) {
        timedOut = true;
        say(`${o.store}: timed out with ${revoked}/${o.grants} revoked`);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }

    const lags = await sql<{ lag_ms: number; at_ms: number }>`
      SELECT (extract(epoch FROM revoked_at - expires_at) * 1000)::float8 AS lag_ms,
             (extract(epoch FROM expires_at) * 1000)::float8 AS at_ms
      FROM grants WHERE tenant_id = ${t.tenantId}::uuid AND state = 'revoked'`.execute(tb.store.db);
    const tenths: number[][] = Array.from({ length: 10 }, () => []);
    let lastRevoked = 0;
    for (const r of lags.rows) {
      tenths[Math.min(9, Math.max(0, Math.floor(((r.at_ms - expiresFrom.getTime()) / o.windowMs) * 10)))]!.push(r.lag_ms);
      lastRevoked = Math.max(lastRevoked, r.at_ms + r.lag_ms);
    }
    const stillEnabled = [...state.accounts.values()].filter((a) => a.enabled).length;
    return {
      store: o.store,
      grants: o.grants,
      revoked,
      lagMs: summarize(lags.rows.map((r) => r.lag_ms)),
      setupMs,
      seedMs,
      slackMs,
      offeredPerSecond: o.grants / (o.windowMs / 1000),
      achievedPerSecond: (revoked * 1000) / (lastRevoked - expiresFrom.getTime()),
      drainMs: lastRevoked - expiresFrom.getTime(),
      p50ByTenthMs: tenths.map((v) => Math.round(summarize(v).p50)),
      targetRevokeCalls: state.calls.revoke,
      targetAccountsStillEnabled: stillEnabled,
      timedOut,
    };
  } finally {
    await tb.close();
  }
}
