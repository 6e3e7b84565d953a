/**
 * Offboarding: seconds from disabling a person to the last of their grants revoked (and
 * verified on the target), on PostgreSQL, through the same app path as
 * POST /tenants/:tenant/members/:id/disable, with the server's own scheduler doing the
 * revocations. The person holds `grants` active grants on the fake target (one JIT account, so
 * the revocations take turns on its lease, the slowest case for one person).
 */
import { sql } from 'kysely';
import { createOffboarding } from '../src/app/offboarding.js';
import { createTokens } from '../src/auth/tokens.js';
import { startTimebox } from '../src/server/start.js';
import { requestActivated, seedOperators, seededOperators } from './seed.js';
import { benchLogger, say, serverEnv, setupTenant } from './setup.js';

export interface OffboardingResult {
  grants: number;
  rounds: number;
  /** Per round: disable call to the last grant revoked. */
  seconds: number[];
  worstSeconds: number;
  notRevoked: number;
}

export async function measureOffboarding(o: { databaseUrl: string; grants: number; rounds: number; timeoutMs: number }): Promise<OffboardingResult> {
  const tb = await startTimebox({ env: serverEnv({ DATABASE_URL: o.databaseUrl }), logger: benchLogger() });
  try {
    const t = await setupTenant(tb.url, tb.bootstrap, { maxDurationSeconds: 3600 });
    const scope = { ...t, tag: 'off' };
    await seedOperators(tb.store.db, scope, 1, o.rounds);
    const people = await seededOperators(tb.store.db, scope, o.rounds);
    const offboarding = createOffboarding({ ...tb.deps, tokens: createTokens({ db: tb.store.db, audit: tb.deps.audit, clock: tb.deps.clock }) });
    const seconds: number[] = [];
    let notRevoked = 0;
    for (const who of people) {
      const ids: string[] = [];
      for (let i = 0; i < o.grants; i++) {
        const g = await requestActivated(tb, t, who, { durationSeconds: 3600, reason: 'benchmark offboarding' });
        ids.push(g.id);
      }
      const started = Date.now();
      await offboarding.disableMember(t.tenantId, who.operatorId, { type: 'system', id: null }, 'benchmark offboarding', () => {});
      for (;;) {
        const r = await sql<{ n: string }>`SELECT count(*) AS n FROM grants WHERE id = ANY(${ids}::uuid[]) AND state = 'revoked'`.execute(tb.store.db);
        if (Number(r.rows[0]!.n) === ids.length) break;
        if (Date.now() - started > o.timeoutMs) {
          notRevoked += ids.length - Number(r.rows[0]!.n);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      seconds.push((Date.now() - started) / 1000);
    }
    say(`offboarding: ${o.rounds} people with ${o.grants} grants each: ${seconds.map((s) => s.toFixed(2)).join(', ')} s`);
    return { grants: o.grants, rounds: o.rounds, seconds, worstSeconds: Math.max(...seconds), notRevoked };
  } finally {
    await tb.close();
  }
}
