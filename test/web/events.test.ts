/**
 * The dashboard's live updates: GET /api/v1/tenants/:tenant/events streams a `grant` event each
 * time a grant the caller may see changes, only those, ends when the session does, and never
 * keeps the server from shutting down.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { addMember, apiClient } from '../support/http.js';
import { openEventStreamCount } from '../../src/http/routes/event-routes.js';
import { openSse, type SseEvent } from './sse-client.js';
import { startWebServer, type WebServer } from './support.js';

const grantEvent = (id: string, state: string) => (e: SseEvent) => e.event === 'grant' && JSON.parse(e.data).id === id && JSON.parse(e.data).state === state;

describe('event stream', () => {
  let server: WebServer;
  let targetId: string;
  const events = (tenant = 'default') => `${server.url}/api/v1/tenants/${tenant}/events`;

  async function login(email: string, password: string) {
    const res = await apiClient(server.url).post<{ token: string; csrfToken: string }>('/api/v1/auth/login', { email, password });
    expect(res.status).toBe(200);
    return { token: res.body.token, api: apiClient(server.url, res.body.token), cookie: `timebox_session=${res.body.token}` };
  }

  async function requester() {
    const email = `rita.${randomBytes(3).toString('hex')}@example.com`;
    const added = await addMember(server.url, server.admin, 'default', email, ['requester']);
    return login(email, added.password);
  }

  async function activate(api: ReturnType<typeof apiClient>, reason: string) {
    const res = await api.post('/api/v1/tenants/default/requests', { targetId, entitlements: ['readers'], durationSeconds: 600, reason });
    expect(res.status).toBe(201);
    expect(res.body.state).toBe('active');
    return res.body as { id: string; expiresAt: string };
  }

  beforeAll(async () => {
    // No SPA needed here: an empty folder serves the API only.
    server = await startWebServer({ adminUrl: inject('pgAdminUrl'), distDir: join(tmpdir(), 'timebox-no-dashboard'), env: { TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true' }, pollMs: 100, heartbeatMs: 300 });
    const t = await server.admin.post('/api/v1/tenants/default/targets', {
      name: 'fake-db',
      kind: 'fake',
      config: { instance: `events-${randomBytes(4).toString('hex')}`, entitlements: ['readers'] },
    });
    expect(t.status).toBe(201);
    targetId = t.body.target.id;
    const p = await server.admin.post('/api/v1/tenants/default/policies', {
      name: 'all',
      requesterRoles: ['owner', 'requester'],
      maxDurationSeconds: 3600,
      defaultDurationSeconds: 600,
    });
    expect(p.status).toBe(201);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('refuses anonymous callers and tenants the caller is not in', async () => {
    expect((await fetch(events())).status).toBe(401);
    const rita = await requester();
    const res = await fetch(events('no-such-tenant'), { headers: { cookie: rita.cookie } });
    expect(res.status).toBe(404);
  });

  it('streams the state changes of a grant, including expiry, as they happen', async () => {
    const admin = await login(server.adminLogin.email, server.adminLogin.password);
    const stream = await openSse(events(), { cookie: admin.cookie });
    try {
      expect(stream.status).toBe(200);
      const hello = JSON.parse((await stream.next((e) => e.event === 'hello')).data);
      expect(Math.abs(Date.parse(hello.now) - server.clock.now().getTime())).toBeLessThan(5000);

      const grant = await activate(admin.api, 'INC-1 live update check');
      const active = JSON.parse((await stream.next(grantEvent(grant.id, 'active'))).data);
      expect(active).toEqual({ id: grant.id, state: 'active', expiresAt: grant.expiresAt, lastError: null, now: expect.any(String) });

      server.clock.shift(600_000);
      await server.tb.scheduler.drain();
      const revoked = JSON.parse((await stream.next(grantEvent(grant.id, 'revoked'))).data);
      expect(revoked.id).toBe(grant.id);
      // Idle streams carry heartbeat comments, which EventSource ignores.
      await expect.poll(() => stream.comments, { timeout: 3000 }).toContain('heartbeat');
    } finally {
      stream.close();
    }
  });

  it('shows a requester only their own grants; an admin sees everyone’s', async () => {
    const rita = await requester();
    const admin = await login(server.adminLogin.email, server.adminLogin.password);
    const ritaStream = await openSse(events(), { cookie: rita.cookie });
    const adminStream = await openSse(events(), { cookie: admin.cookie });
    try {
      await ritaStream.next((e) => e.event === 'hello');
      await adminStream.next((e) => e.event === 'hello');
      const adminGrant = await activate(admin.api, 'INC-2 admin work');
      const ritaGrant = await activate(rita.api, 'INC-3 rita work');
      await ritaStream.next(grantEvent(ritaGrant.id, 'active'));
      await adminStream.next(grantEvent(ritaGrant.id, 'active'));
      await adminStream.next(grantEvent(adminGrant.id, 'active'));
      // Rita's stream has polled past the admin's grant (her own came later) without showing it.
      await expect(ritaStream.next((e) => e.event === 'grant' && e.data.includes(adminGrant.id), 600)).rejects.toThrow(/no matching event/);
    } finally {
      ritaStream.close();
      adminStream.close();
    }
  });

  it('tells the client when its session ends, then closes the stream', async () => {
    const rita = await requester();
    const stream = await openSse(events(), { cookie: rita.cookie });
    await stream.next((e) => e.event === 'hello');
    expect((await rita.api.post('/api/v1/auth/logout')).status).toBe(204);
    const ended = await stream.next((e) => e.event === 'session');
    expect(JSON.parse(ended.data)).toEqual({ ended: true });
    await stream.ended;
  });

  it('stops polling for a client that went away, and for a member who was removed', async () => {
    const admin = await login(server.adminLogin.email, server.adminLogin.password);
    const stream = await openSse(events(), { cookie: admin.cookie });
    await stream.next((e) => e.event === 'hello');
    expect(openEventStreamCount()).toBe(1);
    stream.close();
    await expect.poll(openEventStreamCount, { timeout: 3000 }).toBe(0);

    const rita = await requester();
    const me = await rita.api.get<{ operator: { id: string } }>('/api/v1/me');
    const ritaStream = await openSse(events(), { cookie: rita.cookie });
    await ritaStream.next((e) => e.event === 'hello');
    expect((await server.admin.call('DELETE', `/api/v1/tenants/default/members/${me.body.operator.id}`)).status).toBe(204);
    await ritaStream.ended;
    expect(openEventStreamCount()).toBe(0);
  });

  it('does not keep the server from shutting down while a stream is open', async () => {
    const admin = await login(server.adminLogin.email, server.adminLogin.password);
    const stream = await openSse(events(), { cookie: admin.cookie });
    await stream.next((e) => e.event === 'hello');
    const started = Date.now();
    await server.app.close();
    await stream.ended;
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
