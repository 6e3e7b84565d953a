import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../audit/audit-log.js';
import { AppError } from '../core/errors.js';
import { fakeClock } from '../core/clock.js';
import type { Store } from '../store/db.js';
import { openTestStore } from '../../test/harness/pglite-template.js';
import { createOperators, type Operators } from './operators.js';
import { verifyPassword } from './password-hash.js';

const clock = fakeClock();
const audit = createAuditLog({ clock });
const actor = { type: 'system' as const, id: null };
let store: Store;
let ops: Operators;
let tenantId: string;

beforeAll(async () => {
  store = await openTestStore();
  ops = createOperators({ db: store.db, audit, clock });
  tenantId = (await ops.createTenant({ slug: 'acme', name: 'Acme' }, actor)).id;
});
afterAll(async () => {
  await store.close();
});

const appError = (code: string) => expect.objectContaining({ name: 'AppError', code });

describe('operators', () => {
  it('are found by email whatever its case; a second account with the same email is refused', async () => {
    const op = await ops.create({ email: ' Zoe@Example.COM ', displayName: 'Zoe', password: 'correct horse battery' }, actor);
    expect(op.email).toBe('zoe@example.com');
    const found = await ops.findByEmail('ZOE@example.com');
    expect(found?.id).toBe(op.id);
    expect(await verifyPassword(found!.passwordHash!, 'correct horse battery')).toBe(true);
    await expect(ops.create({ email: 'zoe@EXAMPLE.com', displayName: 'Z2' }, actor)).rejects.toEqual(appError('conflict'));
  });
});

describe('memberships', () => {
  it('validate roles, replace them on update and list them per operator', async () => {
    const op = await ops.create({ email: 'max@example.com', displayName: 'Max' }, actor);
    await expect(ops.setMembership(tenantId, op.id, ['superuser'], actor)).rejects.toEqual(appError('bad_request'));
    await expect(ops.setMembership(tenantId, op.id, [], actor)).rejects.toEqual(appError('bad_request'));
    expect(await ops.setMembership(tenantId, op.id, ['requester', 'requester'], actor)).toMatchObject({ created: true, roles: ['requester'] });
    expect(await ops.setMembership(tenantId, op.id, ['approver'], actor)).toMatchObject({ created: false, previousRoles: ['requester'] });
    expect(await ops.membershipsOf(op.id)).toEqual([{ tenant: { id: tenantId, slug: 'acme', name: 'Acme' }, roles: ['approver'] }]);
  });

  it('a refusing guard leaves the membership unchanged', async () => {
    const op = (await ops.findByEmail('max@example.com'))!;
    const refuse = () => {
      throw new AppError('forbidden', 'no');
    };
    await expect(ops.setMembership(tenantId, op.id, ['admin'], actor, store.db, refuse)).rejects.toEqual(appError('forbidden'));
    await expect(ops.removeMembership(tenantId, op.id, actor, store.db, refuse)).rejects.toEqual(appError('forbidden'));
    expect((await ops.membershipsOf(op.id))[0]?.roles).toEqual(['approver']);
  });

  it('never leave a tenant without an owner', async () => {
    const zoe = (await ops.findByEmail('zoe@example.com'))!;
    const max = (await ops.findByEmail('max@example.com'))!;
    await ops.setMembership(tenantId, zoe.id, ['owner'], actor);
    await expect(ops.setMembership(tenantId, zoe.id, ['admin'], actor)).rejects.toEqual(appError('conflict'));
    await expect(ops.removeMembership(tenantId, zoe.id, actor)).rejects.toEqual(appError('conflict'));
    await ops.setMembership(tenantId, max.id, ['owner'], actor);
    expect(await ops.removeMembership(tenantId, zoe.id, actor)).toEqual(['owner']);
    await expect(ops.removeMembership(tenantId, zoe.id, actor)).rejects.toEqual(appError('not_found'));
  });

  it('list members by email, page by page', async () => {
    for (const name of ['cy', 'ali', 'bea']) {
      const op = await ops.create({ email: `${name}@example.com`, displayName: name }, actor);
      await ops.setMembership(tenantId, op.id, ['auditor'], actor);
    }
    const emails: string[] = [];
    let after: [string, string] | undefined;
    for (;;) {
      const page = await ops.listMembers(tenantId, { limit: 2, after });
      emails.push(...page.items.map((m) => m.operator.email));
      if (!page.next) break;
      after = page.next;
    }
    expect(emails).toEqual(['ali@example.com', 'bea@example.com', 'cy@example.com', 'max@example.com']);
  });

  it('every change is audited in the tenant with the roles before and after', async () => {
    const events = await store.db
      .selectFrom('audit_events')
      .select(['action', 'before', 'after'])
      .where('tenant_id', '=', tenantId)
      .where('action', 'like', 'membership.%')
      .orderBy('seq')
      .execute();
    expect(events[0]).toEqual({ action: 'membership.added', before: null, after: { roles: ['requester'] } });
    expect(events[1]).toEqual({ action: 'membership.updated', before: { roles: ['requester'] }, after: { roles: ['approver'] } });
    expect(events.map((e) => e.action)).toContain('membership.removed');
  });
});
