/**
 * Invitations from outside: a link accepted once with the invitee's own password; expired after
 * 72 hours (the test clock moves); refused when reused; an existing account joins another tenant
 * only with its consent; and the inviting admin gets the same answer whether the address has an
 * account or not, by link (no SMTP) and by email (SMTP set, the link only in the mail: sealed in
 * the outbox while queued, erased once sent).
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink } from '../notify/support.js';
import { addMember, apiClient, ownPassword, signIn, tokenOf, type ApiResponse, type Invited, type Member } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const hex = randomBytes(3).toString('hex');
const HOUR = 3_600_000;
let server: TestServer;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
let known: Member; // has an account (in tenant default)
const anon = () => apiClient(server.url);

/** The answer with what must differ (ids, the address, the link's token, the time) blanked out. */
function shapeOf(res: ApiResponse<Invited>) {
  const b = res.body;
  return {
    status: res.status,
    body: {
      ...b,
      invitation: { ...b.invitation, id: '<id>', email: '<email>', expiresAt: '<time>' },
      link: b.link === null ? null : b.link.replace(/tbi_[A-Za-z0-9_-]+$/, '<token>'),
    },
  };
}

beforeAll(async () => {
  server = await startTestServer();
  smtp = await startSmtpSink({ username: 'relay', password: 'relay-password-1' });
  known = await addMember(server.url, server.admin, 'default', `known.${hex}@example.com`, ['requester']);
  for (const slug of [`nomail-${hex}`, `mail-${hex}`]) expect((await server.admin.post('/api/v1/tenants', { slug, name: slug })).status).toBe(201);
  const settings = await server.admin.call('PUT', `/api/v1/tenants/mail-${hex}/settings/notifications`, {
    smtp: { host: '127.0.0.1', port: smtp.port, username: 'relay', password: 'relay-password-1', from: 'timebox@example.com', requireTls: false },
  });
  expect(settings.status, JSON.stringify(settings.body)).toBe(200);
});
afterAll(async () => {
  await server?.close();
  await smtp?.close();
});

describe('an invitation link', () => {
  it('is accepted once with a password the invitee chooses; weak ones are refused with the reason', async () => {
    const email = `new.${hex}@example.com`;
    const invited = await server.admin.post<Invited>('/api/v1/tenants/default/members', { email, roles: ['approver'], displayName: 'Nia' });
    expect(invited.status).toBe(201);
    expect(invited.body).toMatchObject({ delivery: 'link', invitation: { email, roles: ['approver'] } });
    expect(new Date(invited.body.invitation.expiresAt).getTime() - server.clock.now().getTime()).toBeGreaterThan(71.9 * HOUR);
    const token = tokenOf(invited.body.link);
    // Only its hash is stored.
    const stored = await server.tb.store.db.selectFrom('invitations').selectAll().where('email', '=', email).execute();
    expect(JSON.stringify(stored)).not.toContain(token);

    const preview = await anon().post('/api/v1/invitations/preview', { token });
    expect(preview.body).toMatchObject({ email, kind: 'member', tenant: { slug: 'default' }, roles: ['approver'] });

    for (const [password, why] of [
      ['short-1', /at least 12 characters/],
      [email, /email/],
      ['password12345', /too easy to guess/],
    ] as const) {
      const weak = await anon().post('/api/v1/invitations/accept', { token, password });
      expect(weak.status).toBe(400);
      expect(weak.body.error.message).toMatch(why);
    }
    const password = ownPassword();
    const accepted = await anon().post('/api/v1/invitations/accept', { token, password });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    const login = await anon().post('/api/v1/auth/login', { email, password });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ operator: { displayName: 'Nia' }, passwordChangeRequired: false });

    const reused = await anon().post('/api/v1/invitations/accept', { token, password: ownPassword() });
    expect(reused.status).toBe(409);
    expect(reused.body.error.message).toContain('already used');
    expect((await anon().post('/api/v1/auth/login', { email, password })).status).toBe(200);
  });

  it('an unknown or tampered token is refused', async () => {
    expect((await anon().post('/api/v1/invitations/accept', { token: `tbi_${'A'.repeat(43)}`, password: ownPassword() })).status).toBe(404);
    expect((await anon().post('/api/v1/invitations/accept', { token: 'not-a-token', password: ownPassword() })).status).toBe(404);
    expect((await anon().post('/api/v1/invitations/accept', { token: '', password: 'x' })).status).toBe(400);
  });
});

describe('someone who already has an account', () => {
  it('joins another tenant only by accepting while signed in as themselves', async () => {
    const T = `/api/v1/tenants/nomail-${hex}`;
    const invited = await server.admin.post<Invited>(`${T}/members`, { email: known.email, roles: ['auditor'] });
    expect(invited.status).toBe(201);
    // Not a member until they consent.
    const before = await known.api.get('/api/v1/me');
    expect(before.body.memberships.map((m: { tenant: { slug: string } }) => m.tenant.slug)).toEqual(['default']);
    // The link alone opens nothing.
    const without = await anon().post('/api/v1/invitations/accept', { token: tokenOf(invited.body.link), password: ownPassword() });
    expect(without.status).toBe(409);
    expect((await anon().post('/api/v1/auth/login', { email: known.email, password: known.password })).status).toBe(200);

    const accepted = await known.api.post('/api/v1/me/invitations/accept', { token: tokenOf(invited.body.link) });
    expect(accepted.status).toBe(200);
    const after = await known.api.get('/api/v1/me');
    expect(after.body.memberships).toContainEqual({ tenant: expect.objectContaining({ slug: `nomail-${hex}` }), roles: ['auditor'] });
  });
});

describe('the inviting admin learns nothing about the address', () => {
  it('answers the same, by link, whether the email has an account or not', async () => {
    const T = `/api/v1/tenants/nomail-${hex}`;
    // Same length, so even Content-Length cannot tell them apart.
    const unknown = `nobody.${hex}@example.com`.padEnd(known.email.length, 'x').slice(0, known.email.length);
    const other = await addMember(server.url, server.admin, 'default', `other.${hex}@example.com`.slice(0, known.email.length), ['requester']);
    const a = await server.admin.post<Invited>(`${T}/members`, { email: other.email, roles: ['requester'] });
    const b = await server.admin.post<Invited>(`${T}/members`, { email: unknown, roles: ['requester'] });
    expect(shapeOf(a)).toEqual(shapeOf(b));
    expect(a.status).toBe(201);
    expect(JSON.stringify(a.body).length).toBe(JSON.stringify(b.body).length);
  });

  it('answers the same by email, and only the mail carries the link that works', async () => {
    const T = `/api/v1/tenants/mail-${hex}`;
    const unknown = `fresh.${hex}@example.com`.padEnd(known.email.length, 'y').slice(0, known.email.length);
    const a = await server.admin.post<Invited>(`${T}/members`, { email: known.email, roles: ['requester'] });
    const b = await server.admin.post<Invited>(`${T}/members`, { email: unknown, roles: ['requester'] });
    expect(shapeOf(a)).toEqual(shapeOf(b));
    expect(a.body).toMatchObject({ delivery: 'email', link: null });

    // While queued, the link is in no column in clear: the body has a placeholder, the payload a ciphertext.
    const outbox = () => server.tb.store.db.selectFrom('notifications').selectAll().where('event', '=', 'invitation').where('recipient', 'in', [known.email, unknown]).execute();
    const queued = await outbox();
    expect(queued.map((r) => r.status)).toEqual(['pending', 'pending']);
    expect(JSON.stringify(queued)).not.toContain('tbi_');
    expect(queued.every((r) => r.body.includes('accept: <link>') && typeof (r.payload as { linkEnc?: unknown }).linkEnc === 'string')).toBe(true);

    await server.tb.dispatcher.drain();
    const mail = smtp.received.find((m) => m.to.includes(unknown));
    expect(mail?.subject).toBe(`You are invited to mail-${hex} on Timebox`);
    const link = /(http\S+\/invite\/tbi_[A-Za-z0-9_-]+)/.exec(mail!.text)?.[1];
    expect(link).toBeDefined();
    // Sent: the sealed link is erased, and the token was never stored anywhere in the outbox.
    const sent = await outbox();
    expect(sent.map((r) => r.status)).toEqual(['sent', 'sent']);
    expect(sent.map((r) => r.payload)).toEqual([{ invitationId: expect.any(String) }, { invitationId: expect.any(String) }]);
    expect(JSON.stringify(sent)).not.toContain(tokenOf(link!));
    const password = ownPassword();
    expect((await anon().post('/api/v1/invitations/accept', { token: tokenOf(link!), password })).status).toBe(200);
    const me = await signIn(server.url, unknown, password);
    expect((await me.get('/api/v1/me')).body.memberships).toEqual([{ tenant: expect.objectContaining({ slug: `mail-${hex}` }), roles: ['requester'] }]);
    expect(smtp.received.some((m) => m.to.includes(known.email) && m.subject.includes(`mail-${hex}`))).toBe(true);
  });
});

describe('a pending invitation', () => {
  it('is listed to those who manage members, and withdrawn: its link stops working at once', async () => {
    const admin = await addMember(server.url, server.admin, 'default', `admin.${hex}@example.com`, ['admin']);
    const otherAdmin = await addMember(server.url, server.admin, `nomail-${hex}`, `rival.${hex}@example.com`, ['admin']);
    const email = `wrong.${hex}@example.com`;
    const invited = await admin.api.post<Invited>('/api/v1/tenants/default/members', { email, roles: ['requester'] });
    const id = invited.body.invitation.id;
    const owner = await server.admin.post<Invited>('/api/v1/tenants/default/members', { email: `boss.${hex}@example.com`, roles: ['owner'] });

    const listed = await admin.api.get<{ items: Array<{ id: string; email: string; roles: string[] }> }>('/api/v1/tenants/default/invitations');
    expect(listed.status).toBe(200);
    expect(listed.body.items).toContainEqual(expect.objectContaining({ id, email, roles: ['requester'], invitedBy: admin.id }));
    // Not to a requester; not across tenants; an owner's invitation is an owner's to withdraw.
    expect((await known.api.get('/api/v1/tenants/default/invitations')).status).toBe(403);
    expect((await otherAdmin.api.call('DELETE', `/api/v1/tenants/nomail-${hex}/invitations/${id}`)).status).toBe(404);
    expect((await otherAdmin.api.call('DELETE', `/api/v1/tenants/default/invitations/${id}`)).status).toBe(404);
    const notOwner = await admin.api.call('DELETE', `/api/v1/tenants/default/invitations/${owner.body.invitation.id}`);
    expect(notOwner.status).toBe(403);
    expect(notOwner.body.error.message).toBe('you need the owners.manage permission in tenant default to withdraw or replace an invitation to be an owner');
    // Nor replaced by inviting the address again (in any case), which would withdraw it quietly.
    const replaced = await admin.api.post('/api/v1/tenants/default/members', { email: `BOSS.${hex}@example.com`, roles: ['requester'] });
    expect(replaced.status).toBe(403);
    expect(replaced.body.error.message).toBe('you need the owners.manage permission in tenant default to withdraw or replace an invitation to be an owner');
    expect((await anon().post('/api/v1/invitations/preview', { token: tokenOf(owner.body.link) })).status).toBe(200);

    expect((await admin.api.call('DELETE', `/api/v1/tenants/default/invitations/${id}`)).status).toBe(204);
    const late = await anon().post('/api/v1/invitations/accept', { token: tokenOf(invited.body.link), password: ownPassword() });
    expect(late.status).toBe(409);
    expect(late.body.error.message).toBe('this invitation link has expired or was withdrawn; ask for a new one');
    expect((await anon().post('/api/v1/invitations/preview', { token: tokenOf(invited.body.link) })).status).toBe(409);
    expect((await admin.api.call('DELETE', `/api/v1/tenants/default/invitations/${id}`)).status).toBe(404);
    const after = await admin.api.get<{ items: Array<{ id: string }> }>('/api/v1/tenants/default/invitations');
    expect(after.body.items.map((i) => i.id)).not.toContain(id);
    expect(after.body.items.map((i) => i.id)).toContain(owner.body.invitation.id);
    const events = await server.tb.store.db.selectFrom('audit_events').select(['action', 'actor_id']).where('subject_id', '=', id).orderBy('seq').execute();
    expect(events).toEqual([
      { action: 'invitation.created', actor_id: admin.id },
      { action: 'invitation.withdrawn', actor_id: admin.id },
    ]);

    // An invitation sent again replaces the earlier one, which is audited as withdrawn.
    const first = await admin.api.post<Invited>('/api/v1/tenants/default/members', { email: `again.${hex}@example.com`, roles: ['requester'] });
    const second = await admin.api.post<Invited>('/api/v1/tenants/default/members', { email: `again.${hex}@example.com`, roles: ['approver'] });
    expect(second.status).toBe(201);
    expect((await anon().post('/api/v1/invitations/preview', { token: tokenOf(first.body.link) })).status).toBe(409);
    const ended = await server.tb.store.db.selectFrom('audit_events').select(['action', 'actor_id', 'reason', 'after']).where('subject_id', '=', first.body.invitation.id).orderBy('seq').execute();
    expect(ended.map((e) => e.action)).toEqual(['invitation.created', 'invitation.withdrawn']);
    expect(ended[1]).toMatchObject({ actor_id: admin.id, reason: 'superseded by a new invitation to the same address', after: { supersededBy: second.body.invitation.id } });
  });
});

describe('an address written in look-alike characters', () => {
  it('is refused, naming why, and nothing is created', async () => {
    const before = (await server.admin.get<{ items: unknown[] }>('/api/v1/tenants/default/invitations')).body.items.length;
    const res = await server.admin.post('/api/v1/tenants/default/members', { email: `\uff42ob.${hex}@example.com`, roles: ['requester'] });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/write the address in its usual characters \(no full-width or other compatibility forms\)/);
    expect((await server.admin.get<{ items: unknown[] }>('/api/v1/tenants/default/invitations')).body.items.length).toBe(before);
  });
});

describe('the link of an invitation', () => {
  it('points under TIMEBOX_PUBLIC_URL when it is set, whatever Host the request named', async () => {
    const behind = await startTestServer({ env: { TIMEBOX_PUBLIC_URL: 'https://timebox.example.com/access/' } });
    try {
      const payload = JSON.stringify({ email: `hosted.${hex}@example.com`, roles: ['requester'] });
      const forged = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest(new URL('/api/v1/tenants/default/members', behind.url), {
          method: 'POST',
          headers: { authorization: `Bearer ${behind.admin.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), host: 'evil.example' },
        }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end(payload);
      });
      expect(forged.status, forged.text).toBe(201);
      const body = JSON.parse(forged.text) as { link: string };
      expect(body.link).toMatch(/^https:\/\/timebox\.example\.com\/access\/invite\/tbi_[A-Za-z0-9_-]+$/);
    } finally {
      await behind.close();
    }
    // Without the setting, the host the admin reached the server by.
    const here = await server.admin.post<Invited>('/api/v1/tenants/default/members', { email: `local.${hex}@example.com`, roles: ['requester'] });
    expect(here.body.link!.startsWith(`${new URL(server.url).origin}/invite/`)).toBe(true);
  });
});

// Last: moving the clock 72 hours on also ends every session of this file.
describe('an unused link', () => {
  it('expires after 72 hours', async () => {
    const email = `late.${hex}@example.com`;
    const invited = await server.admin.post<Invited>('/api/v1/tenants/default/members', { email, roles: ['requester'] });
    server.clock.shift(72 * HOUR + 1000);
    const late = await anon().post('/api/v1/invitations/accept', { token: tokenOf(invited.body.link), password: ownPassword() });
    expect(late.status).toBe(409);
    expect(late.body.error.message).toContain('expired');
    expect((await anon().post('/api/v1/invitations/preview', { token: tokenOf(invited.body.link) })).status).toBe(409);
    const nobody = await server.tb.store.db.selectFrom('operators').select('id').where('email', '=', email).execute();
    expect(nobody).toEqual([]);
  });
});
