/**
 * SSH certificates from grants, end to end through the API of a real server and a real sshd:
 * the host trusts the CA and the KRL fetched from Timebox's public endpoints; a requester asks for
 * principal `deploy` with their own key and logs in with the certificate shown once; a principal
 * not granted is refused; revoking the grant refuses the certificate as soon as the host has the
 * new KRL; a short grant's certificate stops working when the grant ends (real time: sshd judges
 * validity by this machine's clock, so the shiftable clock is never moved here). Bad keys and
 * principals are a 400 that creates nothing. The CLI gets a certificate with --public-key-file.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runArgv, sshLogin, startSshd, type Sshd } from '../harness/sshd.js';
import { credentialsDb } from '../../src/credentials/types.js';
import { scratchDir } from '../credentials/support.js';
import { runCli } from '../cli/harness.js';
import { addMember, type ApiClient } from '../support/http.js';
import { addOperator, createMember, startTestServer, type TestServer } from '../support/test-server.js';

const T = '/api/v1/tenants/default';
let server: TestServer;
let sshd: Sshd;
let scratch: Awaited<ReturnType<typeof scratchDir>>;
let alice: ApiClient;
let targetId: string;
let krlFile: string;
let keyFile: string;
let publicKey: string;
const email = `alice.${randomBytes(3).toString('hex')}@example.com`;

/** What a host's timer does: fetch the KRL from the public endpoint, check it, replace the file atomically. */
async function refreshKrl(): Promise<void> {
  const res = await fetch(new URL(`${T}/ca/ssh/krl`, server.url));
  expect(res.status).toBe(200);
  const tmp = path.join(scratch.dir, 'krl.new');
  await writeFile(tmp, Buffer.from(await res.arrayBuffer()), { mode: 0o644 });
  expect((await runArgv('ssh-keygen', ['-Q', '-l', '-f', tmp])).code).toBe(0);
  await rename(tmp, krlFile);
}

async function saveCert(name: string, certificate: string): Promise<string> {
  const file = path.join(scratch.dir, name);
  await writeFile(file, `${certificate.trim()}\n`, { mode: 0o644 });
  return file;
}

const login = (user: string, certificateFile: string, identityFile = keyFile) =>
  sshLogin({ port: sshd.port, user, identityFile, certificateFile, command: ['id', '-un'] });

const request = (body: Record<string, unknown>) =>
  alice.post(`${T}/requests`, { targetId, durationSeconds: 600, reason: 'CHG-42 deploy the web tier', ...body });

const issuedFor = (grantId: string) =>
  credentialsDb(server.tb.store.db).selectFrom('issued_credentials').selectAll().where('grant_id', '=', grantId).execute();

async function counts() {
  const db = credentialsDb(server.tb.store.db);
  const n = async (table: 'grants' | 'jit_accounts' | 'access_requests' | 'issued_credentials') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return { grants: await n('grants'), accounts: await n('jit_accounts'), requests: await n('access_requests'), issued: await n('issued_credentials') };
}

/** The certificate's validity as ssh-keygen prints it (UTC). */
async function validityOf(certFile: string): Promise<string> {
  const res = await runArgv('ssh-keygen', ['-L', '-f', certFile], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC' } });
  expect(res.code, res.stderr).toBe(0);
  return /Valid: (.*)/.exec(res.stdout)?.[1]?.trim() ?? '';
}
const sshTime = (iso: string) => new Date(Math.floor(+new Date(iso) / 1000) * 1000).toISOString().slice(0, 19);

beforeAll(async () => {
  server = await startTestServer();
  scratch = await scratchDir();
  const added = await server.admin.post(`${T}/targets`, {
    name: 'web-hosts',
    kind: 'ssh-certificate',
    config: { principalsAllowed: ['deploy', 'tbother'], extensions: ['permit-pty'] },
  });
  expect(added.status).toBe(201);
  expect(added.body.check).toMatchObject({ ok: true });
  targetId = added.body.target.id;
  const policy = await server.admin.post(`${T}/policies`, {
    name: 'ssh deploy',
    targetId,
    requesterRoles: ['requester'],
    maxDurationSeconds: 3600,
    defaultDurationSeconds: 600,
  });
  expect(policy.status).toBe(201);
  alice = await addOperator(server, email, ['requester']);

  // The admin creates the CA before the first grant, so hosts can be set up first.
  const ca = await server.admin.post(`${T}/ca/ssh`);
  expect(ca.status).toBe(200);
  expect(ca.body).toMatchObject({ kind: 'ssh', status: 'active', algorithm: 'ssh-ed25519' });

  // Host setup, from the public endpoints only (no token).
  const trusted = await fetch(new URL(`${T}/ca/ssh`, server.url));
  expect(trusted.status).toBe(200);
  krlFile = path.join(scratch.dir, 'timebox_revoked_keys');
  await refreshKrl();
  sshd = await startSshd({ users: ['deploy', 'tbother'], trustedUserCaKeys: await trusted.text(), revokedKeysFile: krlFile });

  keyFile = path.join(scratch.dir, 'id_ed25519');
  const gen = await runArgv('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', email, '-f', keyFile]);
  expect(gen.code, gen.stderr).toBe(0);
  publicKey = (await readFile(`${keyFile}.pub`, 'utf8')).trim();
});

afterAll(async () => {
  await sshd?.stop();
  await server?.close();
  await scratch?.remove();
});

describe('public CA endpoints', () => {
  it('serve TrustedUserCAKeys without authentication, cache-friendly, and a KRL ssh-keygen reads', async () => {
    const res = await fetch(new URL(`${T}/ca/ssh`, server.url));
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=60');
    const body = await res.text();
    expect(body).toMatch(/^ssh-ed25519 AAAA\S+ timebox-ca:[0-9a-f-]{36}:[0-9a-f-]{36}\n$/);
    const etag = res.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(new URL(`${T}/ca/ssh`, server.url), { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);

    const krl = await fetch(new URL(`${T}/ca/ssh/krl`, server.url));
    expect(krl.headers.get('content-type')).toBe('application/octet-stream');
    expect(krl.headers.get('cache-control')).toBe('public, no-cache');
  });

  it('answer an unknown tenant exactly like a tenant without that CA: no probing of tenants', async () => {
    const unknown = await fetch(new URL('/api/v1/tenants/no-such-tenant/ca/ssh', server.url));
    const noJwt = await fetch(new URL(`${T}/.well-known/jwks.json`, server.url));
    expect(unknown.status).toBe(404);
    expect(noJwt.status).toBe(404);
    expect(await unknown.json()).toEqual(await noJwt.json());
    expect((await fetch(new URL('/api/v1/tenants/no-such-tenant/ca/ssh/krl', server.url))).status).toBe(404);
    // Reading never creates a CA.
    expect((await server.admin.get(`${T}/ca`)).body.items.map((c: { kind: string }) => c.kind)).toEqual(['ssh']);
  });
});

describe('a grant issues an SSH certificate valid exactly for the grant', () => {
  let grantId: string;
  let certFile: string;

  it('reveals the certificate once; it logs in as the granted principal during the grant', async () => {
    const res = await request({ entitlements: ['deploy'], publicKey });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ state: 'active', username: email, entitlements: ['deploy'], credentialAvailable: true });
    grantId = res.body.id;

    const cred = await alice.post(`${T}/grants/${grantId}/credential`);
    expect(cred.status).toBe(200);
    expect(cred.body).toMatchObject({ username: email, password: null });
    expect(cred.body.certificate).toMatch(/^ssh-ed25519-cert-v01@openssh\.com AAAA/);
    expect(cred.body.privateKey).toBeUndefined();
    expect(cred.body.caPublicKey).toBe((await (await fetch(new URL(`${T}/ca/ssh`, server.url))).text()).trim());
    const again = await alice.post(`${T}/grants/${grantId}/credential`);
    expect(again.status).toBe(409);

    certFile = await saveCert('deploy-cert.pub', cred.body.certificate);
    expect(await validityOf(certFile)).toBe(`from ${sshTime(res.body.startsAt)} to ${sshTime(res.body.expiresAt)}`);
    const ok = await login('deploy', certFile);
    expect(ok.stderr).toBe('');
    expect(ok).toMatchObject({ code: 0, stdout: 'deploy\n' });
    expect(sshd.log()).toContain(`Accepted certificate ID "timebox:${grantId}:${email}"`);
  });

  it('refuses an account the grant did not name', async () => {
    const res = await login('tbother', certFile);
    expect(res.code).toBe(255);
    expect(res.stderr).toContain('Permission denied');
    expect(sshd.log()).toContain('name is not a listed principal');
  });

  it('after an early revoke the host refuses it as soon as it has the KRL from Timebox', async () => {
    const ended = await alice.post(`${T}/grants/${grantId}/revoke`, { reason: 'deploy finished' });
    expect(ended.status).toBe(200);
    expect(ended.body).toMatchObject({ state: 'revoked', endReason: 'deploy finished' });
    // A host that has not refreshed its KRL yet still accepts it: the KRL is what revokes.
    expect((await login('deploy', certFile)).code).toBe(0);
    await refreshKrl();
    const res = await login('deploy', certFile);
    expect(res.code).toBe(255);
    expect(sshd.log()).toContain('revoked by file');

    const issued = await issuedFor(grantId);
    expect(issued).toEqual([expect.objectContaining({ revocation_reason: 'privilegeWithdrawn' })]);
    const audit = await server.admin.get(`${T}/audit?limit=200`);
    const actions = audit.body.items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['ca.created', 'credential.issued', 'credential.revoked', 'grant.credential_revealed']));
  });

  it('generates a key pair when the requester has none; the private key is shown once and kept nowhere', async () => {
    const res = await request({ entitlements: ['deploy'] });
    expect(res.status).toBe(201);
    const cred = await alice.post(`${T}/grants/${res.body.id}/credential`);
    expect(cred.body.privateKey).toContain('BEGIN OPENSSH PRIVATE KEY');
    const idFile = path.join(scratch.dir, 'generated');
    await writeFile(idFile, cred.body.privateKey, { mode: 0o600 });
    expect((await login('deploy', await saveCert('generated-cert.pub', cred.body.certificate), idFile)).code).toBe(0);

    const secretLine = cred.body.privateKey.split('\n')[1];
    const dump = JSON.stringify([
      await server.tb.store.db.selectFrom('grants').selectAll().execute(),
      await server.tb.store.db.selectFrom('audit_events').selectAll().execute(),
    ]);
    expect(dump).not.toContain(secretLine);
    await alice.post(`${T}/grants/${res.body.id}/revoke`, { reason: 'done' });
  });

  it('a short grant: the certificate works during it and is refused once it has ended', async () => {
    const res = await request({ entitlements: ['deploy'], publicKey, durationSeconds: 12 });
    expect(res.status).toBe(201);
    const cred = await alice.post(`${T}/grants/${res.body.id}/credential`);
    const file = await saveCert('short-cert.pub', cred.body.certificate);
    expect((await login('deploy', file)).code).toBe(0);

    const end = +new Date(res.body.expiresAt);
    const deadline = end + 20_000;
    let refused = false;
    while (!refused && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      refused = (await login('deploy', file)).code !== 0;
    }
    expect(refused).toBe(true);
    expect(Date.now()).toBeGreaterThanOrEqual(end - 1000);
    expect(sshd.log()).toMatch(/Certificate invalid: expired/);

    // Timebox ends the grant by itself; an expired certificate needs no revocation (nor a KRL entry).
    let grant = await alice.get(`${T}/grants/${res.body.id}`);
    while (grant.body.state !== 'revoked' && Date.now() < deadline + 10_000) {
      await new Promise((r) => setTimeout(r, 250));
      grant = await alice.get(`${T}/grants/${res.body.id}`);
    }
    expect(grant.body).toMatchObject({ state: 'revoked', endReason: 'expired' });
    const issued = await issuedFor(res.body.id);
    expect(issued).toEqual([expect.objectContaining({ revoked_at: null })]);
  });
});

describe('bad input is a 400 that creates nothing', () => {
  const rsa1024 = async () => {
    const file = path.join(scratch.dir, `rsa1024-${randomBytes(3).toString('hex')}`);
    const gen = await runArgv('ssh-keygen', ['-q', '-t', 'rsa', '-b', '1024', '-N', '', '-f', file]);
    expect(gen.code, gen.stderr).toBe(0);
    return (await readFile(`${file}.pub`, 'utf8')).trim();
  };
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const dsa = `ssh-dss ${Buffer.concat([str(Buffer.from('ssh-dss')), ...[1, 2, 3, 4].map(() => str(randomBytes(20)))]).toString('base64')} old@host`;

  it.each([
    ['malformed base64', () => 'ssh-ed25519 AAAA!!notbase64 me@host', /not valid base64/],
    ['not a key at all', () => 'hello world', /unknown key type/],
    ['a private key', async () => readFile(keyFile, 'utf8'), /PRIVATE key/],
    ['a DSA key', () => dsa, /DSA keys are weak/],
    ['an RSA key of 1024 bits', rsa1024, /RSA keys must have at least 3072 bits, this one has 1024/],
    ['a certificate instead of a key', async () => readFile(path.join(scratch.dir, 'deploy-cert.pub'), 'utf8'), /this is a certificate/],
  ])('refuses %s', async (_what, key, message) => {
    const before = await counts();
    const res = await request({ entitlements: ['deploy'], publicKey: await key() });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^SSH public key refused: /);
    expect(res.body.error.message).toMatch(message);
    expect(await counts()).toEqual(before);
  });

  it.each([
    ['deploy,root', /contains ','/],
    ['de ploy', /contains whitespace/],
    ['root', /no entitlement named "root"/],
  ])('refuses principal %j', async (principal, message) => {
    const before = await counts();
    const res = await request({ entitlements: [principal], publicKey });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(message);
    expect(await counts()).toEqual(before);
  });

  it('refuses more principals than a certificate carries before anything is written (not a grant that fails to activate)', async () => {
    // A pattern allows each of them; together they are more than one certificate may name.
    const hosts = await server.admin.post(`${T}/targets`, { name: 'app-hosts', kind: 'ssh-certificate', config: { principalPattern: 'app-[0-9]+' } });
    expect(hosts.status, JSON.stringify(hosts.body)).toBe(201);
    const policy = await server.admin.post(`${T}/policies`, { name: 'app hosts', targetId: hosts.body.target.id, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);
    const before = await counts();
    const many = Array.from({ length: 33 }, (_, i) => `app-${i}`);
    const res = await request({ targetId: hosts.body.target.id, entitlements: many, publicKey });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.message).toBe('at most 32 principals are allowed');
    expect(await counts()).toEqual(before);
  });

  it('refuses a chosen account name: the account is the requester', async () => {
    const bob = await addOperator(server, `bob.${randomBytes(3).toString('hex')}@example.com`, ['requester']);
    const before = await counts();
    const res = await bob.post(`${T}/requests`, { targetId, entitlements: ['deploy'], reason: 'CHG-42 deploy', publicKey, accountName: 'root' });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/the account is your identity/);
    expect(await counts()).toEqual(before);
  });
});

describe('extensions', () => {
  it("refuses Alice's key to anybody else, before anything is written, even after her certificates ended; she still uses it", async () => {
    const dave = await addOperator(server, `dave.${randomBytes(3).toString('hex')}@example.com`, ['requester']);
    const before = await counts();
    const res = await dave.post(`${T}/requests`, { targetId, entitlements: ['deploy'], durationSeconds: 600, reason: 'CHG-44 deploy', publicKey });
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body.error.message).toBe('this public key is already certified for another person; everyone signs in with their own key (e.g. ssh-keygen -t ed25519)');
    expect(await counts()).toEqual(before);
    // Every certificate of Alice's is revoked or expired by now: the key stays hers.
    const live = await credentialsDb(server.tb.store.db).selectFrom('issued_credentials').select('id').where('revoked_at', 'is', null).where('not_after', '>', new Date()).execute();
    expect(live).toEqual([]);

    const own = await request({ entitlements: ['deploy'], publicKey });
    expect(own.status, JSON.stringify(own.body)).toBe(201);
    expect(own.body.state).toBe('active');
    await alice.post(`${T}/grants/${own.body.id}/revoke`, { reason: 'done' });
  });

  it('two people asking with one new key: the first certificate signed binds it, the other activation is refused and signs nothing', async () => {
    const approver = await createMember(server.tb, 'default', `amy.${randomBytes(3).toString('hex')}@example.com`, ['approver']);
    const approved = await server.admin.post(`${T}/policies`, {
      name: 'ssh deploy approved',
      targetId,
      requesterRoles: ['requester'],
      maxDurationSeconds: 3600,
      defaultDurationSeconds: 600,
      rules: { approvalLevels: [{ approverIds: [approver.id] }] },
    });
    expect(approved.status, JSON.stringify(approved.body)).toBe(201);
    const shared = path.join(scratch.dir, 'id_shared');
    expect((await runArgv('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', shared])).code).toBe(0);
    const sharedKey = (await readFile(`${shared}.pub`, 'utf8')).trim();
    const erin = await addOperator(server, `erin.${randomBytes(3).toString('hex')}@example.com`, ['requester']);
    const frank = await addOperator(server, `frank.${randomBytes(3).toString('hex')}@example.com`, ['requester']);

    // Both asked before either was signed, so both requests pass the early check.
    const waiting = await erin.post(`${T}/requests`, { targetId, entitlements: ['deploy'], reason: 'CHG-45 deploy', publicKey: sharedKey, policyId: approved.body.id });
    expect(waiting.status, JSON.stringify(waiting.body)).toBe(201);
    expect(waiting.body.state).toBe('requested');
    const first = await frank.post(`${T}/requests`, { targetId, entitlements: ['deploy'], reason: 'CHG-45 deploy', publicKey: sharedKey });
    expect(first.body.state).toBe('active');

    const decided = await approver.api.post(`${T}/grants/${waiting.body.id}/approve`, {});
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    // The failed activation is cleaned up (revoking) before the grant ends.
    let grant = await erin.get(`${T}/grants/${waiting.body.id}`);
    for (const deadline = Date.now() + 30_000; ['activating', 'revoking'].includes(grant.body.state) && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 100));
      grant = await erin.get(`${T}/grants/${waiting.body.id}`);
    }
    expect(grant.body.state).toBe('revoked');
    expect(grant.body.endReason).toBe('activation failed: this public key is already certified for another person; everyone signs in with their own key (e.g. ssh-keygen -t ed25519)');
    expect(grant.body.credentialAvailable).toBe(false);
    expect(await issuedFor(waiting.body.id)).toEqual([]);
    await frank.post(`${T}/grants/${first.body.id}/revoke`, { reason: 'done' });
  });

  it('refuses an extension when it is asked: a certificate cannot be made to last longer', async () => {
    const policy = await server.admin.post(`${T}/policies`, {
      name: 'ssh deploy extendable',
      targetId,
      requesterRoles: ['requester'],
      maxDurationSeconds: 3600,
      defaultDurationSeconds: 600,
      rules: { extension: { allowed: true, maxTotalSeconds: 7200, selfApprove: true } },
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);
    const res = await request({ entitlements: ['deploy'], publicKey, policyId: policy.body.id });
    expect(res.body.state, JSON.stringify(res.body)).toBe('active');
    const ext = await alice.post(`${T}/grants/${res.body.id}/extend`, { seconds: 600, reason: 'longer deploy' });
    expect(ext.status, JSON.stringify(ext.body)).toBe(422);
    expect(ext.body.error.message).toBe('targets of kind ssh-certificate cannot move their expiry; request access again instead');
    // Nothing is recorded as an approved extension that extended nothing.
    expect(await server.tb.store.db.selectFrom('grant_extensions').select('state').where('grant_id', '=', res.body.id).execute()).toEqual([]);
    await alice.post(`${T}/grants/${res.body.id}/revoke`, { reason: 'done' });
    await server.admin.call('DELETE', `${T}/policies/${policy.body.id}`);
  });
});

describe('the CLI', () => {
  it('requests with --public-key-file and writes the certificate once with --out (0600)', async () => {
    const who = `carol.${randomBytes(3).toString('hex')}@example.com`;
    const member = await addMember(server.url, server.admin, 'default', who, ['requester']);

    const env = { TIMEBOX_CONFIG: path.join(scratch.dir, 'cli.json') };
    const signIn = await runCli(['login', '--server', server.url, '--email', who, '--password-stdin'], {
      env,
      input: `${member.password}\n`,
    });
    expect(signIn.code, signIn.stderr).toBe(0);
    // Carol's own key: Alice's is certified for Alice alone.
    const carolKey = path.join(scratch.dir, 'id_carol');
    const gen = await runArgv('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', who, '-f', carolKey]);
    expect(gen.code, gen.stderr).toBe(0);
    const out = path.join(scratch.dir, 'cli-cert.pub');
    const r = await runCli(
      ['request', '--target', 'web-hosts', '--entitlement', 'deploy', '--duration', '5m', '--reason', 'CHG-43 hotfix', '--public-key-file', `${carolKey}.pub`, '--out', out],
      { env },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`certificate written to ${out} (mode 0600)`);
    expect(r.stdout).not.toContain('ssh-ed25519-cert-v01');
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect((await login('deploy', out, carolKey)).code).toBe(0);
  });
});
