/** Upgrading a log written under the single global chain: every old event is sealed again, in its old order, into per-tenant chains. */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, expect, it } from 'vitest';
import { createAuditSealer } from '../../audit/audit-sealer.js';
import { verifyAuditLog } from '../../audit/audit-verify.js';
import { keyIdOf } from '../../audit/checkpoints.js';
import { fakeClock } from '../../core/clock.js';
import type { Database } from '../schema.js';
import * as m0001 from './0001_init.js';
import * as m0018 from './0018_audit_sealing.js';

const pglite = await PGlite.create('memory://');
const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ ...createPgConfig(pglite), max: 1 } as pg.PoolConfig) }) });
afterAll(async () => {
  await db.destroy();
  await pglite.close();
});

it('re-seals events of the old single chain into per-tenant chains in their old order', async () => {
  await m0001.up(db as Kysely<unknown>);
  const tenants = [randomUUID(), randomUUID()];
  for (let seq = 1; seq <= 9; seq++) {
    const tenant = seq % 3 === 0 ? null : tenants[seq % 2]!;
    await sql`INSERT INTO audit_events (seq, id, at, tenant_id, actor_type, action, subject_type, reason, prev_hash, hash)
      VALUES (${seq}, ${randomUUID()}, now(), ${tenant}, 'system', 'old.event', 'grant', ${`old ${seq}`}, 'x', 'y')`.execute(db);
  }
  await m0018.up(db as Kysely<unknown>);

  // New events after the upgrade follow the old ones.
  await db.insertInto('audit_events').values({ id: randomUUID(), at: new Date(), tenant_id: tenants[1]!, actor_type: 'system', actor_id: null, action: 'new.event', subject_type: 'grant', subject_id: null, reason: 'new', before: null, after: null }).execute();
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signer = { privateKey, keyId: keyIdOf(publicKey) };
  const sealer = createAuditSealer({ db, clock: fakeClock(), log: pino({ level: 'silent' }), workerId: 'w', signer, witnesses: [] });
  expect(await sealer.sealNow({ checkpoint: true })).toEqual({ sealed: 10, checkpoints: 3 });

  const rows = await db.selectFrom('audit_events').select(['seq', 'tenant_id', 'chain_pos', 'reason']).orderBy('seq').execute();
  const chainOf = (t: string | null) => rows.filter((r) => r.tenant_id === t).map((r) => [r.reason, r.chain_pos]);
  expect(chainOf(tenants[1]!)).toEqual([['old 1', '1'], ['old 5', '2'], ['old 7', '3'], ['new', '4']]);
  expect(chainOf(null)).toEqual([['old 3', '1'], ['old 6', '2'], ['old 9', '3']]);
  expect(rows.at(-1)!.seq).toBe('10'); // the insertion id continues after the old seq
  expect(await verifyAuditLog(db, { trustedKeys: new Map([[signer.keyId, publicKey]]), witnesses: [] })).toMatchObject({ ok: true, checked: 10, checkpoints: { trusted: 3 } });
});
