/**
 * The gateway's API from the outside, on a server running the gateway itself
 * (`TIMEBOX_GATEWAY_PORT`): the host key to pin, certificates only for Ed25519 keys, registered
 * keys belong to one person, destinations only for Linux host targets with a real host key,
 * sessions only for admins and auditors of the tenant. Refusals change nothing.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runArgv } from '../harness/sshd.js';
import { addMember, startRestartableServer, type RestartableServer } from '../e2e/agent-support.js';
import type { ApiClient } from '../support/http.js';

const T = '/api/v1/tenants/default';
let server: RestartableServer;
let dir: string;
let ann: ApiClient;
let bob: ApiClient;

async function keyPair(name: string, type = 'ed25519'): Promise<string> {
  const file = path.join(dir, name);
  const r = await runArgv('/usr/bin/ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '3072'] : []), '-N', '', '-f', file]);
  if (r.code !== 0) throw new Error(r.stderr);
  return (await readFile(`${file}.pub`, 'utf8')).trim();
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tb-gateway-api-'));
  server = await startRestartableServer({ TIMEBOX_GATEWAY_PORT: '0', TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true', TIMEBOX_MASTER_KEY: randomBytes(32).toString('base64') });
  ann = await addMember(server, 'ann@example.test', ['requester']);
  bob = await addMember(server, 'bob@example.test', ['requester']);
}, 120_000);

afterAll(async () => {
  await server?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('serves the host key the gateway presents, and where it listens', async () => {
  const gw = server.tb.gateway!;
  const info = (await ann.get('/api/v1/gateway')).body;
  expect(info.fingerprint).toBe(gw.hostKeyFingerprint);
  expect(info.address).toBe(`127.0.0.1:${gw.port}`);
  // The key the gateway presents on the wire is the one served.
  const scan = await runArgv('/usr/bin/ssh-keyscan', ['-t', 'ed25519', '-p', String(gw.port), '127.0.0.1']);
  expect(scan.stdout).toContain(info.hostKey.split(' ').slice(0, 2).join(' '));
});

it('certifies Ed25519 keys only, never a private key', async () => {
  const ok = await ann.post('/api/v1/gateway/certificate', { publicKey: await keyPair('ann') });
  expect(ok.status).toBe(200);
  expect(ok.body.certificate).toMatch(/^ssh-ed25519-cert-v01@openssh.com /);
  const rsa = await ann.post('/api/v1/gateway/certificate', { publicKey: await keyPair('ann-rsa', 'rsa') });
  expect(rsa.status).toBe(400);
  expect(rsa.body.error.message).toMatch(/ssh-ed25519 keys only/);
  const priv = await ann.post('/api/v1/gateway/certificate', { publicKey: await readFile(path.join(dir, 'ann'), 'utf8') });
  expect(priv.status).toBe(400);
  expect(priv.body.error.message).toMatch(/PRIVATE key/);
});

it('registered keys: one key, one person; removed only by their owner', async () => {
  const key = await keyPair('laptop');
  const added = await ann.post('/api/v1/me/ssh-keys', { name: 'laptop', publicKey: key });
  expect(added.status).toBe(201);
  expect((await ann.post('/api/v1/me/ssh-keys', { name: 'again', publicKey: key })).status).toBe(409);
  const theft = await bob.post('/api/v1/me/ssh-keys', { name: 'mine', publicKey: key });
  expect(theft.status).toBe(409);
  expect(theft.body.error.message).toMatch(/someone else/);
  expect((await bob.call('DELETE', `/api/v1/me/ssh-keys/${added.body.id}`)).status).toBe(404);
  expect((await ann.get('/api/v1/me/ssh-keys')).body.items).toHaveLength(1);
  expect((await bob.get('/api/v1/me/ssh-keys')).body.items).toHaveLength(0);
  expect((await ann.call('DELETE', `/api/v1/me/ssh-keys/${added.body.id}`)).status).toBe(204);
  expect((await ann.get('/api/v1/me/ssh-keys')).body.items).toHaveLength(0);
});

it('destinations: managers only, Linux host targets only, a real host key; sessions: admins and auditors only', async () => {
  const other = await server.admin.post(`${T}/targets`, { name: 'db', kind: 'fake', config: { instance: 'gateway-api', entitlements: ['readers'] } });
  expect(other.status).toBe(201);
  const targetId = other.body.target?.id ?? other.body.id;
  const hostKey = await keyPair('host');
  const wrongKind = await server.admin.call('PUT', `${T}/targets/${targetId}/gateway-destination`, { host: '127.0.0.1', port: 22, hostKey });
  expect(wrongKind.status).toBe(400);
  expect(wrongKind.body.error.message).toMatch(/Linux host targets only/);
  expect((await ann.call('PUT', `${T}/targets/${targetId}/gateway-destination`, { host: '127.0.0.1', port: 22, hostKey })).status).toBe(403);
  expect((await server.admin.get(`${T}/targets/${targetId}/gateway-destination`)).status).toBe(404);
  const unknown = await server.admin.call('PUT', `${T}/targets/00000000-0000-4000-8000-000000000000/gateway-destination`, { host: '127.0.0.1', port: 22, hostKey });
  expect(unknown.status).toBe(404);
  for (const host of ['-oProxyCommand=x', 'a..b', '::g', '10.0.0.256', '1.2.3', 'a:b']) {
    const badHost = await server.admin.call('PUT', `${T}/targets/00000000-0000-4000-8000-000000000000/gateway-destination`, { host, port: 22, hostKey });
    expect(badHost.status, host).toBe(400);
    expect(badHost.body.error.message, host).toBe('host must be a DNS name or an IP address');
  }
  const badKey = await server.admin.call('PUT', `${T}/targets/00000000-0000-4000-8000-000000000000/gateway-destination`, { host: 'h', port: 22, hostKey: 'ssh-ed25519 AAAA' });
  expect(badKey.status).toBe(400);

  expect((await ann.get(`${T}/gateway-sessions`)).status).toBe(403);
  expect((await ann.post(`${T}/gateway-sessions/00000000-0000-4000-8000-000000000000/kill`)).status).toBe(403);
  expect((await server.admin.get(`${T}/gateway-sessions`)).body.items).toEqual([]);
  expect((await server.admin.post(`${T}/gateway-sessions/00000000-0000-4000-8000-000000000000/kill`)).status).toBe(404);
  expect((await server.admin.get(`/api/v1/tenants/nope/gateway-sessions`)).status).toBe(404);
});
