/**
 * What Timebox adds to an Active Directory JIT grant: grant + revoke round trips per second
 * through Timebox's app layer (requestAccess, the activation job, ending the grant, the revoke
 * job with its verify, as POST /requests and POST /grants/:id/revoke run them) against a real
 * Samba AD DC, beside the same LDAP operations sent by a bare ldapts script with nothing around
 * them. The difference is Timebox's own cost: database writes, audit chain, scheduling, leases.
 *
 * "The same LDAP operations" is the connector's sequence, one connection per connector call
 * (TLS handshake and bind each time), so the two sides differ only in what is not LDAP:
 * 1. list groups (the entitlement check before anything is written)
 * 2. grant: rootDSE, find the account, check the group, update the account, add to the group,
 *    set the password and enable
 * 3. revoke: rootDSE, find the account, disable and expire, remove from the group, new password
 * 4. verify: rootDSE, find the account
 *
 * Each side runs the same number of round trips on its own accounts (created beforehand, not
 * measured: re-enabling an existing account is the common case), in short blocks that alternate
 * A/B/A/B; the overhead is the median over the block pairs, so load from elsewhere on a shared
 * machine affects both sides alike.
 */
import { randomBytes } from 'node:crypto';
import { Attribute, Change, Client } from 'ldapts';
import { endGrant } from '../src/app/grants.js';
import { createOperators } from '../src/auth/operators.js';
import { requestAccess, type Requester } from '../src/app/request-access.js';
import { startTimebox, type Timebox } from '../src/server/start.js';
import { prepareJitDomain, startSambaDc, type JitDomain, type SambaDc } from '../test/harness/samba.js';
import { benchLogger, say, serverEnv } from './setup.js';
import { summarize, type Summary } from './stats.js';

export interface AdOverheadFigures {
  roundTrips: number;
  /** Round trips in flight at once (one account each; one account's trips are sequential). */
  concurrency: number;
  timebox: { perSecond: number; latencyMs: Summary };
  direct: { perSecond: number; latencyMs: Summary };
  /** Timebox's time / the direct time - 1, in percent (20: Timebox takes 20 % longer); median of the block pairs. */
  overheadPct: number;
}

const FILETIME_1601_MS = 11_644_473_600_000n;
const fileTime = (d: Date) => ((BigInt(d.getTime()) + FILETIME_1601_MS) * 10_000n).toString();
const pwd = () => `${randomBytes(18).toString('base64url')}-Aa1`;
const SECURITY_ENABLED = 0x80000000;

async function call(path: string, base: string, method: string, token: string | null, body?: unknown) {
  const res = await fetch(new URL(path, base), {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** The direct side: the connector's LDAP sessions, written out with nothing else around them. */
function directClient(dc: SambaDc, domain: JitDomain) {
  const session = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
    const c = new Client({ url: dc.ldapsUrl, connectTimeout: 5000, timeout: 15_000, tlsOptions: { ca: dc.caPem, servername: dc.tlsServerName, minVersion: 'TLSv1.2' } });
    try {
      await c.bind(domain.serviceDn, domain.servicePassword);
      return await fn(c);
    } finally {
      await c.unbind().catch(() => {});
    }
  };
  const group = domain.groups[0];
  const rootDse = (c: Client) => c.search('', { scope: 'base', attributes: ['defaultNamingContext'] });
  const find = (c: Client, user: string) =>
    c.search(dc.baseDn, { filter: `(sAMAccountName=${user})`, attributes: ['sAMAccountName', 'description', 'displayName', 'userAccountControl', 'accountExpires', 'memberOf', 'objectClass'] });
  const replace = (c: Client, dn: string, values: Record<string, string | Buffer>) =>
    c.modify(dn, Object.entries(values).map(([type, v]) => new Change({ operation: 'replace', modification: new Attribute({ type, values: [v] as string[] | Buffer[] }) })));
  const member = (c: Client, op: 'add' | 'delete', dn: string) =>
    c.modify(group, [new Change({ operation: op, modification: new Attribute({ type: 'member', values: [dn] }) })]);
  const unicodePwd = (p: string) => Buffer.from(`"${p}"`, 'utf16le');

  return {
    async create(user: string) {
      await session((c) =>
        c.add(`CN=${user},${domain.jitOu}`, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: user, userAccountControl: '514', description: 'Timebox JIT account (bench baseline)' }),
      );
    },
    async roundTrip(user: string) {
      const dn = `CN=${user},${domain.jitOu}`;
      await session((c) =>
        c.search(dc.baseDn, {
          filter: `(&(objectClass=group)(groupType:1.2.840.113556.1.4.803:=${SECURITY_ENABLED})(|(cn=*${group}*)(sAMAccountName=*${group}*)(distinguishedName=${group})))`,
          attributes: ['cn', 'description'],
          paged: { pageSize: 500 },
        }),
      );
      await session(async (c) => {
        await rootDse(c);
        await find(c, user);
        await c.search(group, { scope: 'base', filter: '(objectClass=group)', attributes: ['allowedAttributesEffective'] });
        await replace(c, dn, { description: 'Timebox JIT account (bench baseline): grant', displayName: `JIT: ${user}`, accountExpires: fileTime(new Date(Date.now() + 600_000)) });
        await member(c, 'add', dn);
        await replace(c, dn, { unicodePwd: unicodePwd(pwd()), userAccountControl: '512' });
      });
      await session(async (c) => {
        await rootDse(c);
        await find(c, user);
        await replace(c, dn, { userAccountControl: '514', accountExpires: fileTime(new Date()) });
        await member(c, 'delete', dn);
        await replace(c, dn, { unicodePwd: unicodePwd(pwd()) });
      });
      await session(async (c) => {
        await rootDse(c);
        await find(c, user);
      });
    },
  };
}

/** The Timebox side: a tenant with the AD target, a policy and `n` people, set up over the API. */
async function timeboxSide(tb: Timebox, dc: SambaDc, domain: JitDomain, n: number) {
  const first = await call('/api/v1/auth/login', tb.url, 'POST', null, tb.bootstrap);
  const token = first.token as string;
  // The printed password must be changed before anything else.
  await call('/api/v1/me/password', tb.url, 'POST', token, { currentPassword: tb.bootstrap!.password, newPassword: `Bench-${randomBytes(12).toString('base64url')}` });
  const T = '/api/v1/tenants/default';
  const { target } = await call(`${T}/targets`, tb.url, 'POST', token, {
    name: 'bench-ad',
    kind: 'active-directory',
    config: { url: dc.ldapsUrl, bindDn: domain.serviceDn, bindPassword: domain.servicePassword, caPem: dc.caPem, tlsServerName: dc.tlsServerName, baseDn: dc.baseDn, jitOu: domain.jitOu },
  });
  await call(`${T}/policies`, tb.url, 'POST', token, {
    name: 'bench', targetId: target.id, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600, reasonMinLength: 0,
  });
  const tenantId = (await tb.store.db.selectFrom('tenants').select('id').where('slug', '=', 'default').executeTakeFirstOrThrow()).id;
  const people: Requester[] = [];
  const operators = createOperators({ db: tb.store.db, audit: tb.deps.audit, clock: tb.deps.clock });
  const system = { type: 'system' as const, id: null };
  for (let i = 0; i < n; i++) {
    const email = `tb${i}@bench.invalid`;
    // Straight into the store: these people never sign in, they only hold grants.
    const op = await operators.create({ email, displayName: `Bench ${i}` }, system);
    await operators.setMembership(tenantId, op.id, ['requester'], system);
    people.push({ operatorId: op.id, email, displayName: `Bench ${i}`, roles: ['requester'] });
  }
  const roundTrip = async (who: Requester) => {
    const actor = { type: 'operator' as const, id: who.operatorId };
    const g = await requestAccess(tb.deps, actor, tenantId, who, { targetId: target.id, entitlements: [domain.groups[0]], durationSeconds: 600, reason: 'benchmark' });
    await tb.scheduler.runNow(g.id, 'activate');
    await endGrant(tb.deps, actor, tenantId, who, g.id, 'benchmark done');
    await tb.scheduler.runNow(g.id, 'revoke');
    const state = (await tb.store.db.selectFrom('grants').select(['state', 'last_error']).where('id', '=', g.id).executeTakeFirstOrThrow());
    if (state.state !== 'revoked') throw new Error(`a benchmark grant ended ${state.state}: ${state.last_error ?? ''}`);
  };
  return { people, roundTrip };
}

/** `total` round trips over `workers` (one account each, sequential per account); per-trip times. */
async function block(workers: number, total: number, trip: (w: number) => Promise<void>): Promise<{ ms: number; trips: number[] }> {
  let next = 0;
  const trips: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (next++ < total) {
        const t = performance.now();
        await trip(w);
        trips.push(performance.now() - t);
      }
    }),
  );
  return { ms: performance.now() - started, trips };
}

/** One DC, one server and the same accounts for every concurrency level. */
export async function measureAdOverhead(o: { databaseUrl: string; roundTrips: number; concurrency: number[] }): Promise<AdOverheadFigures[]> {
  const dc = await startSambaDc();
  let tb: Timebox | null = null;
  try {
    const domain = await prepareJitDomain(dc);
    tb = await startTimebox({ env: serverEnv({ DATABASE_URL: o.databaseUrl, TIMEBOX_RECONCILE_MS: '0' }), logger: benchLogger() });
    const most = Math.max(...o.concurrency);
    const timebox = await timeboxSide(tb, dc, domain, most);
    const direct = directClient(dc, domain);
    const users = Array.from({ length: most }, (_, i) => `bl${i}_jit`);
    // Accounts exist before measuring on both sides (a first grant creates it in Timebox).
    for (const u of users) await direct.create(u);
    for (const u of users) await direct.roundTrip(u);
    for (const p of timebox.people) await timebox.roundTrip(p);

    const results: AdOverheadFigures[] = [];
    for (const concurrency of o.concurrency) {
      // Short alternating blocks, and the overhead as the median of the per-pair ratios: on a
      // shared machine, load that comes and goes then hits both sides alike.
      const size = Math.max(10, 5 * concurrency);
      const pairs = Math.max(2, Math.round(o.roundTrips / size));
      const sides = { timebox: { ms: 0, trips: [] as number[] }, direct: { ms: 0, trips: [] as number[] } };
      const ratios: number[] = [];
      for (let i = 0; i < pairs; i++) {
        const d = await block(concurrency, size, (w) => direct.roundTrip(users[w]!));
        const t = await block(concurrency, size, (w) => timebox.roundTrip(timebox.people[w]!));
        sides.direct.ms += d.ms;
        sides.direct.trips.push(...d.trips);
        sides.timebox.ms += t.ms;
        sides.timebox.trips.push(...t.trips);
        ratios.push(t.ms / d.ms);
      }
      const n = pairs * size;
      const r: AdOverheadFigures = {
        roundTrips: n,
        concurrency,
        timebox: { perSecond: n / (sides.timebox.ms / 1000), latencyMs: summarize(sides.timebox.trips) },
        direct: { perSecond: n / (sides.direct.ms / 1000), latencyMs: summarize(sides.direct.trips) },
        overheadPct: (summarize(ratios).p50 - 1) * 100,
      };
      say(`AD overhead, ${concurrency} in flight, ${n} round trips each: direct ${r.direct.perSecond.toFixed(1)}/s, Timebox ${r.timebox.perSecond.toFixed(1)}/s, overhead ${r.overheadPct.toFixed(1)} %`);
      results.push(r);
    }
    return results;
  } finally {
    await tb?.close();
    await dc.destroy();
  }
}
