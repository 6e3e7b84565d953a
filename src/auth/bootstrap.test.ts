import { afterAll, describe, expect, inject, it } from 'vitest';
import { createAuditLog } from '../audit/audit-log.js';
import { fakeClock } from '../core/clock.js';
import { openStore, type Store } from '../store/db.js';
import { openTestStore } from '../../test/harness/pglite-template.js';
import { createTestDatabase } from '../../test/harness/pg-database.js';
import { bootstrapIfEmpty } from './bootstrap.js';
import { verifyPassword } from './password-hash.js';

const clock = fakeClock();
const audit = createAuditLog({ clock });
const toClose: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of toClose.reverse()) await close();
});

describe('first start on the embedded database', () => {
  let store: Store;

  it('hands out the admin credentials once and only once, even to simultaneous callers', async () => {
    store = await openTestStore();
    toClose.push(() => store.close());
    const results = await Promise.all([bootstrapIfEmpty(store.db, audit, clock), bootstrapIfEmpty(store.db, audit, clock)]);
    const creds = results.filter((r) => r !== null);
    expect(creds).toHaveLength(1);
    expect(creds[0]).toEqual({ email: 'admin@localhost', password: expect.stringMatching(/^.{24}$/) });
    expect(await bootstrapIfEmpty(store.db, audit, clock)).toBeNull();
    expect(await store.db.selectFrom('operators').select('id').execute()).toHaveLength(1);

    const admin = await store.db.selectFrom('operators').selectAll().executeTakeFirstOrThrow();
    expect(admin).toMatchObject({ email: 'admin@localhost', platform_admin: true, disabled: false });
    expect(admin.password_hash).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(admin.password_hash!, creds[0]!.password)).toBe(true);
  });

  it('makes the admin owner of the default tenant, audited, without the password anywhere', async () => {
    const memberships = await store.db
      .selectFrom('memberships as m')
      .innerJoin('tenants as t', 't.id', 'm.tenant_id')
      .select(['t.slug', 't.name', 'm.roles'])
      .execute();
    expect(memberships).toEqual([{ slug: 'default', name: 'Default', roles: ['owner'] }]);
    const events = await store.db.selectFrom('audit_events').select(['action', 'actor_type', 'before', 'after']).orderBy('seq').execute();
    expect(events.map((e) => e.action)).toEqual(['tenant.created', 'operator.created', 'membership.added']);
    expect(events.every((e) => e.actor_type === 'system')).toBe(true);
    expect(JSON.stringify(events)).not.toMatch(/argon2|password"/);
  });
});

describe('first start of two servers on one PostgreSQL', () => {
  it('exactly one of them creates the admin', async () => {
    const database = await createTestDatabase(inject('pgAdminUrl'));
    toClose.push(() => database.drop());
    const a = await openStore({ databaseUrl: database.url, poolSize: 2 });
    toClose.push(() => a.close());
    const b = await openStore({ databaseUrl: database.url, poolSize: 2 });
    toClose.push(() => b.close());
    const results = await Promise.all([bootstrapIfEmpty(a.db, audit, clock), bootstrapIfEmpty(b.db, audit, clock)]);
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect(await a.db.selectFrom('operators').select('email').execute()).toEqual([{ email: 'admin@localhost' }]);
    expect(await a.db.selectFrom('tenants').select('slug').execute()).toEqual([{ slug: 'default' }]);
  });
});
