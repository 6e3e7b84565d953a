/**
 * Two server processes share one PostgreSQL store: 500 grants on a real PostgreSQL target
 * expire together and each is revoked exactly once (one 'grant.revoked' audit event each),
 * with the audit chain intact although both processes append to it.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, startPostgres, type PgCluster } from '../harness/postgres.js';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { preparePgTarget, type PgTarget } from '../support/pg-target.js';
import { startChildServer, type ChildServer } from '../support/child-server.js';
import { createAppKit } from '../support/app-kit.js';
import { postgresConnector } from '../../src/connectors/postgres/postgres-connector.js';
import { addTarget } from '../../src/app/targets.js';
import { createPolicy } from '../../src/app/policies.js';
import { requestAccess } from '../../src/app/request-access.js';
import { createSecretBox } from '../../src/secrets/envelope.js';
import { verifyAuditLog } from '../../src/audit/audit-verify.js';
import { openStore } from '../../src/store/db.js';

const GRANTS = 500;
const PEOPLE = 100;
let cluster: PgCluster;
let target: PgTarget;
let store: TestDatabase;
const servers: ChildServer[] = [];
const masterKey = randomBytes(32);
// One folder for both: replicas share the audit signing key (a file in it).
let dataDir = '';

beforeAll(async () => {
  cluster = await startPostgres({ name: 'two-servers-target' });
  target = await preparePgTarget(cluster.adminUrl);
  store = await createTestDatabase(inject('pgAdminUrl'));
  dataDir = await mkdtemp(path.join(tmpdir(), 'tb-two-servers-'));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await store?.drop();
  await cluster?.destroy();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('two servers on one store', () => {
  it('revoke each of 500 grants expiring together exactly once', async () => {
    // Activate the grants with the application core itself, on today's clock.
    const s = await openStore({ databaseUrl: store.url });
    const kit = await createAppKit({ connectors: [postgresConnector], store: s, start: new Date().toISOString() });
    kit.deps.secrets = createSecretBox(masterKey);
    const tenantId = await kit.seedTenant();
    const admin = await kit.seedOperator(tenantId, `adm-${randomUUID().slice(0, 6)}@example.com`, ['admin']);
    const actor = { type: 'operator' as const, id: admin.operatorId };
    const { target: t } = await addTarget(kit.deps, actor, tenantId, { name: 'pg', kind: 'postgres', config: target.config });
    await createPolicy(kit.deps, actor, tenantId, { name: 'p', requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600, reasonMinLength: 3 });
    const people = [];
    for (let i = 0; i < PEOPLE; i++) people.push(await kit.seedOperator(tenantId, `p${i}.${randomUUID().slice(0, 4)}@example.com`, ['requester']));
    const endAt = Date.now() + 45_000;
    for (let i = 0; i < GRANTS; i++) {
      const who = people[i % PEOPLE]!;
      kit.clock.set(new Date());
      await requestAccess(kit.deps, { type: 'operator', id: who.operatorId }, tenantId, who, {
        targetId: t.id,
        entitlements: [i % 2 ? target.readers : target.writers],
        // All end within the same second, whenever they were activated.
        durationSeconds: Math.max(10, Math.round((endAt - Date.now()) / 1000)),
        reason: `load ${i}`,
      });
      if (i % 50 === 49) await kit.scheduler.drain();
    }
    kit.clock.set(new Date());
    await kit.scheduler.drain();
    const db = new pg.Pool({ connectionString: store.url, max: 2 });
    const count = async (state: string) =>
      (await db.query<{ n: number }>('select count(*)::int as n from grants where state = $1', [state])).rows[0]!.n;
    expect(await count('active')).toBe(GRANTS);
    await kit.close();
    await s.close();

    const env = { DATABASE_URL: store.url, TIMEBOX_DATA_DIR: dataDir, HOST: '127.0.0.1', TIMEBOX_MASTER_KEY: masterKey.toString('base64'), TIMEBOX_SWEEP_MS: '1000' };
    servers.push(await startChildServer({ ...env, PORT: String(await freePort()) }));
    servers.push(await startChildServer({ ...env, PORT: String(await freePort()) }));

    const deadline = Date.now() + 120_000;
    while ((await count('revoked')) < GRANTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    expect(await count('revoked')).toBe(GRANTS);

    const perGrant = await db.query<{ n: number; grants: number }>(`
      select n, count(*)::int as grants from (
        select g.id, (select count(*)::int from audit_events e where e.subject_id = g.id::text and e.action = 'grant.revoked') as n
        from grants g) x group by n`);
    expect(perGrant.rows).toEqual([{ n: 1, grants: GRANTS }]);

    const targetDb = new pg.Pool({ connectionString: cluster.urlFor(target.database), max: 1 });
    const roles = await targetDb.query<{ login: number; members: number }>(`
      select count(*) filter (where r.rolcanlogin)::int as login,
             (select count(*)::int from pg_auth_members m join pg_roles x on x.oid = m.member
              where shobj_description(x.oid, 'pg_authid') like 'Timebox JIT account%') as members
      from pg_roles r where shobj_description(r.oid, 'pg_authid') like 'Timebox JIT account%'`);
    await targetDb.end();
    expect(roles.rows[0]).toEqual({ login: 0, members: 0 });

    const check = await openStore({ databaseUrl: store.url });
    // Every chain links up (what the sealers sealed so far; checkpoints are the audit tests' concern).
    expect((await verifyAuditLog(check.db, { trustedKeys: new Map(), witnesses: [] })).ok).toBe(true);
    await check.close();
    await db.end();
  }, 240_000);
});
