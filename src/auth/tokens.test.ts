import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../audit/audit-log.js';
import { fakeClock } from '../core/clock.js';
import type { Store } from '../store/db.js';
import { openTestStore } from '../../test/harness/pglite-template.js';
import { createOperators } from './operators.js';
import { createTokens, csrfMatches } from './tokens.js';

const clock = fakeClock('2026-03-01T08:00:00.000Z');
const audit = createAuditLog({ clock });
const system = { type: 'system' as const, id: null };
let store: Store;
let tokens: ReturnType<typeof createTokens>;
let operatorId: string;

beforeAll(async () => {
  store = await openTestStore();
  tokens = createTokens({ db: store.db, audit, clock });
  const ops = createOperators({ db: store.db, audit, clock });
  operatorId = (await ops.create({ email: 'ann@example.com', displayName: 'Ann' }, system)).id;
});
afterAll(async () => {
  await store.close();
});

describe('authenticate', () => {
  it('turns a live token into its principal; only the SHA-256 of the token is stored', async () => {
    const t = await tokens.createApiToken({ operatorId, name: 'ci', expiresAt: null }, system);
    expect(t.token).toMatch(/^tb_[A-Za-z0-9_-]{43}$/);
    expect(await tokens.authenticate(t.token)).toEqual({
      operatorId,
      email: 'ann@example.com',
      displayName: 'Ann',
      platformAdmin: false,
      tokenId: t.id,
      kind: 'api',
      expiresAt: null,
      ssoTenantId: null,
      passwordChangeRequired: false,
    });
    const rows = await store.db.selectFrom('api_tokens').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(t.token);
    expect(await tokens.authenticate(t.token.slice(0, -1) + (t.token.endsWith('A') ? 'B' : 'A'))).toBeNull();
    expect(await tokens.authenticate('not-a-token')).toBeNull();
  });

  it('refuses revoked and expired tokens, and tokens of a disabled operator', async () => {
    const revoked = await tokens.createApiToken({ operatorId, name: 'r', expiresAt: null }, system);
    expect(await tokens.revoke(revoked.id, operatorId, system)).toBe(true);
    expect(await tokens.authenticate(revoked.token)).toBeNull();
    expect(await tokens.revoke(revoked.id, operatorId, system)).toBe(false);

    const expiring = await tokens.createApiToken({ operatorId, name: 'e', expiresAt: new Date(clock.now().getTime() + 60_000) }, system);
    expect(await tokens.authenticate(expiring.token)).not.toBeNull();
    clock.advance(60_000);
    expect(await tokens.authenticate(expiring.token)).toBeNull();

    const session = await tokens.createSession(operatorId);
    await store.db.updateTable('operators').set({ disabled: true }).where('id', '=', operatorId).execute();
    expect(await tokens.authenticate(session.token)).toBeNull();
    await store.db.updateTable('operators').set({ disabled: false }).where('id', '=', operatorId).execute();
    expect(await tokens.authenticate(session.token)).not.toBeNull();
  });

  it('records last use at most once a minute', async () => {
    const t = await tokens.createApiToken({ operatorId, name: 'l', expiresAt: null }, system);
    const lastUsed = async () =>
      (await store.db.selectFrom('api_tokens').select('last_used_at').where('id', '=', t.id).executeTakeFirstOrThrow()).last_used_at;
    const first = clock.now();
    await tokens.authenticate(t.token);
    expect(await lastUsed()).toEqual(first);
    clock.advance(30_000);
    await tokens.authenticate(t.token);
    expect(await lastUsed()).toEqual(first);
    clock.advance(30_000);
    await tokens.authenticate(t.token);
    expect(await lastUsed()).toEqual(clock.now());
  });

  it("cannot revoke someone else's token", async () => {
    const ops = createOperators({ db: store.db, audit, clock });
    const other = await ops.create({ email: 'bo@example.com', displayName: 'Bo' }, system);
    const t = await tokens.createApiToken({ operatorId: other.id, name: 'x', expiresAt: null }, system);
    expect(await tokens.revoke(t.id, operatorId, system)).toBe(false);
    expect(await tokens.authenticate(t.token)).not.toBeNull();
  });
});

describe('sessions', () => {
  it('last 12 hours and carry a CSRF token whose hash alone is stored', async () => {
    const s = await tokens.createSession(operatorId);
    expect(s.expiresAt.getTime() - clock.now().getTime()).toBe(12 * 3600 * 1000);
    const resolved = await tokens.resolve(s.token);
    expect(resolved?.principal.kind).toBe('session');
    expect(resolved?.csrfHash).not.toBe(s.csrfToken);
    expect(csrfMatches(resolved!.csrfHash, s.csrfToken)).toBe(true);
    expect(csrfMatches(resolved!.csrfHash, `${s.csrfToken}x`)).toBe(false);
    expect(csrfMatches(resolved!.csrfHash, undefined)).toBe(false);
    expect(csrfMatches(null, s.csrfToken)).toBe(false);
  });

  it('are not listed among API tokens', async () => {
    const listed = await tokens.listApiTokens(operatorId);
    expect(listed.map((t) => t.name)).toEqual(['l', 'ci']);
  });
});

it('audits token creation and revocation without the token', async () => {
  const events = await store.db.selectFrom('audit_events').select(['action', 'after']).where('subject_type', '=', 'token').execute();
  expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['token.created', 'token.revoked']));
  expect(JSON.stringify(events)).not.toMatch(/tb_|token_hash/);
});
