/**
 * Bulk seeding with SQL (generate_series), shared by the expiry-lag and million-grant benchmarks.
 * Going through requestAccess would take minutes for 10,000 grants and hours for a million; what
 * these benchmarks measure starts once grants are active, so the rows are written directly, in
 * the shape the app leaves them in after activation (state 'active', version 3, a 'revoke' item
 * due at expires_at, the JIT account 'enabled').
 *
 * One operator and one JIT account per grant: a JIT account is per person per target, and
 * thousands of grants piled on one account would measure lease contention on that one account
 * (and an O(n²) "other holders" read), not expiry.
 *
 * Ids are md5(tag:kind:i)::uuid, so every table's rows can be derived from i alone without
 * reading anything back, and the statements stay independent of each other.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { requestAccess } from '../src/app/request-access.js';
import type { Timebox } from '../src/server/start.js';
import type { Database } from '../src/store/schema.js';

export interface SeedScope {
  tenantId: string;
  targetId: string;
  policyId: string;
  /** Lowercase letters/digits: keeps ids, emails and usernames of one seeding apart from another's. */
  tag: string;
}

export interface GrantSeed extends SeedScope {
  count: number;
  /** The first grant expires here, the others uniformly after it over `spanMs`. */
  expiresFrom: Date;
  spanMs: number;
  durationSeconds: number;
  /** Rows per statement: bounds one statement's memory and lets long seedings report progress. */
  chunk?: number;
  onProgress?: (done: number) => void;
}

export const ENTITLEMENT = 'readers';

/** The username seeded for grant i (1-based); the fake target's state is filled with the same. */
export const seededUsername = (tag: string, i: number) => `b${tag}_${i}_jit`;

const id = (tag: string, kind: string): RawBuilder<string> => sql<string>`md5(${tag} || ${`:${kind}:`} || i::text)::uuid`;

/** Operators with the 'requester' role in the tenant (no password: they never sign in). */
export async function seedOperators(db: Kysely<Database>, scope: SeedScope, lo: number, hi: number): Promise<void> {
  await sql`
    INSERT INTO operators (id, email, display_name, created_at)
    SELECT ${id(scope.tag, 'op')}, 'u' || i || '.' || ${scope.tag} || '@bench.invalid', 'Bench user ' || i, now()
    FROM generate_series(${lo}::int, ${hi}::int) AS i`.execute(db);
  await sql`
    INSERT INTO memberships (tenant_id, operator_id, roles, created_at)
    SELECT ${scope.tenantId}::uuid, ${id(scope.tag, 'op')}, ARRAY['requester'], now()
    FROM generate_series(${lo}::int, ${hi}::int) AS i`.execute(db);
}

/** Seeded operators as requestAccess wants them (for the lifecycle benchmark). */
export async function seededOperators(db: Kysely<Database>, scope: SeedScope, count: number) {
  const r = await sql<{ id: string; email: string; display_name: string }>`
    SELECT o.id, o.email, o.display_name FROM generate_series(1, ${count}::int) AS i
    JOIN operators o ON o.id = ${id(scope.tag, 'op')} ORDER BY i`.execute(db);
  return r.rows.map((o) => ({ operatorId: o.id, email: o.email, displayName: o.display_name, roles: ['requester'] }));
}

export async function seedActiveGrants(db: Kysely<Database>, spec: GrantSeed): Promise<void> {
  const chunk = spec.chunk ?? 50_000;
  const t = spec.tag;
  // Same expression for the grant's expires_at and its work's due_at, so they are equal exactly.
  const stepMs = spec.spanMs / spec.count;
  const expires = sql<Date>`(${spec.expiresFrom}::timestamptz + ((i - 1) * ${stepMs}::float8) * interval '1 millisecond')`;
  const handle = sql`jsonb_build_object('username', 'b' || ${t} || '_' || i || '_jit', 'entitlements', jsonb_build_array(${ENTITLEMENT}::text))`;

  for (let lo = 1; lo <= spec.count; lo += chunk) {
    const hi = Math.min(spec.count, lo + chunk - 1);
    const series = sql`generate_series(${lo}::int, ${hi}::int) AS i`;
    await db.transaction().execute(async (tx) => {
      await seedOperators(tx, spec, lo, hi);
      await sql`
        INSERT INTO jit_accounts (id, tenant_id, target_id, operator_id, username, status, created_at, updated_at, last_grant_id)
        SELECT ${id(t, 'acct')}, ${spec.tenantId}::uuid, ${spec.targetId}::uuid, ${id(t, 'op')},
               'b' || ${t} || '_' || i || '_jit', 'enabled', now(), now(), ${id(t, 'grant')}
        FROM ${series}`.execute(tx);
      await sql`
        INSERT INTO access_requests (id, tenant_id, requester_id, target_id, policy_id, entitlements, duration_seconds, reason, created_at)
        SELECT ${id(t, 'req')}, ${spec.tenantId}::uuid, ${id(t, 'op')}, ${spec.targetId}::uuid, ${spec.policyId}::uuid,
               ARRAY[${ENTITLEMENT}::text], ${spec.durationSeconds}::int, 'benchmark seed', now()
        FROM ${series}`.execute(tx);
      await sql`
        INSERT INTO grants (id, tenant_id, policy_id, request_id, jit_account_id, target_id, operator_id, entitlements, state, version,
                            duration_seconds, starts_at, expires_at, handle, created_at, updated_at)
        SELECT ${id(t, 'grant')}, ${spec.tenantId}::uuid, ${spec.policyId}::uuid, ${id(t, 'req')}, ${id(t, 'acct')}, ${spec.targetId}::uuid, ${id(t, 'op')},
               ARRAY[${ENTITLEMENT}::text], 'active', 3, ${spec.durationSeconds}::int,
               ${expires} - ${spec.durationSeconds}::int * interval '1 second', ${expires}, ${handle}, now(), now()
        FROM ${series}`.execute(tx);
      await sql`
        INSERT INTO scheduled_work (kind, grant_id, due_at, created_at)
        SELECT 'revoke', ${id(t, 'grant')}, ${expires}, now()
        FROM ${series}`.execute(tx);
    });
    spec.onProgress?.(hi);
  }
}

/**
 * One of the seeded people asks for the tenant's fake target and, as `POST /requests` does, the
 * grant is activated inline: the grant as its caller sees it.
 */
export async function requestActivated(
  tb: Pick<Timebox, 'deps' | 'scheduler'>,
  scope: Pick<SeedScope, 'tenantId' | 'targetId'>,
  who: Awaited<ReturnType<typeof seededOperators>>[number],
  ask: { durationSeconds: number; reason: string },
) {
  const grant = await requestAccess(tb.deps, { type: 'operator', id: who.operatorId }, scope.tenantId, who, {
    targetId: scope.targetId,
    entitlements: [ENTITLEMENT],
    durationSeconds: ask.durationSeconds,
    reason: ask.reason,
  });
  if (grant.state === 'activating') await tb.scheduler.runNow(grant.id, 'activate');
  return grant;
}
