/**
 * A grant's password is shown to its owner once, and only while the grant is active. Before, a
 * password not yet shown stayed revealable while the grant was revoking and after its revocation
 * failed, when the account on the target may still be open: the owner ended the grant, then read
 * a password that still worked.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addMember } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const T = '/api/v1/tenants/default';
const hex = randomBytes(3).toString('hex');
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ env: { TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true', TIMEBOX_RECONCILE_MS: '0' } });
});
afterAll(async () => {
  await server?.close();
});

it('is not shown once the grant is ending, even when its revocation failed and the account may still be open', async () => {
  // A target that refuses every revocation: the grant stays revoke_failed, the account open.
  const target = await server.admin.post(`${T}/targets`, { name: `stuck-${hex}`, kind: 'fake', config: { instance: `stuck-${hex}`, entitlements: ['readers'], failRevoke: 'permanent' } });
  expect(target.status, JSON.stringify(target.body)).toBe(201);
  await server.admin.post(`${T}/policies`, { name: `stuck-${hex}`, targetId: target.body.target.id, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 });
  const rita = await addMember(server.url, server.admin, 'default', `rita.${hex}@example.com`, ['requester']);

  const grant = await rita.api.post(`${T}/requests`, { targetId: target.body.target.id, entitlements: ['readers'], reason: 'INC-7 stuck revoke' });
  expect(grant.body, JSON.stringify(grant.body)).toMatchObject({ state: 'active', credentialAvailable: true });
  const ended = await rita.api.post(`${T}/grants/${grant.body.id}/revoke`, { reason: 'done early' });
  expect(ended.status, JSON.stringify(ended.body)).toBeLessThan(300);
  await server.tb.scheduler.drain();

  const after = await rita.api.get(`${T}/grants/${grant.body.id}`);
  expect(['revoking', 'revoke_failed']).toContain(after.body.state);
  expect(after.body.credentialAvailable).toBe(false);
  const shown = await rita.api.post(`${T}/grants/${grant.body.id}/credential`);
  expect(shown.status, JSON.stringify(shown.body)).toBe(409);
  expect(shown.body.error.message).toContain('there is no password to show');
  // Not kept either: nothing left to reveal later.
  const row = await server.tb.store.db.selectFrom('grants').select('credential_enc').where('id', '=', grant.body.id).executeTakeFirstOrThrow();
  expect(row.credential_enc).toBeNull();
});
