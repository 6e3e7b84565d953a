/**
 * The Linux agent keeps sshd's certificate trust current: a throwaway host (private mount and PID
 * namespace) runs a real sshd whose TrustedUserCAKeys and RevokedKeys are the files the enrolled
 * `timebox agent run` maintains. Two server processes share one PostgreSQL store: the agent
 * long-polls the one in this process, and an early revocation is made through the other (a
 * child process), so the change reaches the agent only through the database. The agent's timer
 * is an hour: everything seen here within seconds came by the server's signal.
 *
 * Certificates are checked by sshd against this machine's clock, so the server clock is never
 * shifted; every wait is bounded.
 */
import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject, it, onTestFailed } from 'vitest';
import { compiledEntry } from '../harness/compiled.js';
import { createHostNamespace, freePort, type HostNamespace, type NsSshd } from '../harness/host-namespace.js';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { runArgv, sshLogin } from '../harness/sshd.js';
import { repoRoot, waitUntil, writeAgentConfig } from '../agent/support.js';
import { startChildServer, type ChildServer } from '../support/child-server.js';
import { addMember, signIn, type ApiClient } from '../support/http.js';
import { startRestartableServer, type RestartableServer } from './agent-support.js';

const T = '/api/v1/tenants/default';
const KRL = '/etc/ssh/timebox_revoked_keys';
const CA_KEYS = '/etc/ssh/timebox_user_ca.pub';
const USER = 'tbdeploy';

let db: TestDatabase;
let server: RestartableServer;
let other: ChildServer;
let ns: HostNamespace;
let sshd: NsSshd;
let stateDir: string;
let scratch: string;
let agent: { child: ChildProcess; output(): string; kill9(): Promise<void> } | undefined;
let targetId: string;
const people: Record<'alice' | 'bob', { here: ApiClient; there: ApiClient; key: string; publicKey: string }> = {} as never;
const certs: Record<string, string> = {};
let aliceGrant: { id: string; expiresAt: string };

/** `timebox …` inside the namespace, as root, from the repository. */
function cli(args: string[], env: Record<string, string> = {}) {
  const child = ns.spawn([process.execPath, compiledEntry('cli/main'), ...args], { cwd: repoRoot, env: { ...process.env, ...env } });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const done = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output: () => out, done };
}

function startAgent() {
  const run = cli(['agent', 'run', '--state-dir', stateDir]);
  agent = {
    ...run,
    async kill9() {
      if (run.child.exitCode !== null || run.child.signalCode !== null) return;
      process.kill(await ns.innerPid(run.child), 'SIGKILL');
      await run.done;
    },
  };
  return agent;
}

/** The agent's log lines (pino JSON) with this message. */
const logged = (msg: string) =>
  agent!
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);

const inside = async (argv: string[]) => {
  const r = await ns.exec(argv);
  return r.code === 0 ? r.stdout : null;
};
const login = (who: 'alice' | 'bob', cert: string) =>
  sshLogin({ port: sshd.port, user: USER, identityFile: people[who].key, certificateFile: certs[cert], command: ['id', '-un'] });

/** A certificate for `who` through the API (request, then the one-time reveal), saved as `name`. */
async function certificateFor(who: 'alice' | 'bob', name: string) {
  const req = await people[who].here.post(`${T}/requests`, {
    targetId,
    entitlements: [USER],
    durationSeconds: 900,
    reason: 'CHG-7 patch the bastion',
    publicKey: people[who].publicKey,
  });
  expect(req.status, JSON.stringify(req.body)).toBe(201);
  const cred = await people[who].here.post(`${T}/grants/${req.body.id}/credential`);
  expect(cred.status).toBe(200);
  certs[name] = path.join(scratch, `${name}-cert.pub`);
  await writeFile(certs[name]!, `${cred.body.certificate.trim()}\n`, { mode: 0o644 });
  return req.body as { id: string; expiresAt: string };
}

const serialOf = async (name: string) => {
  const r = await runArgv('ssh-keygen', ['-L', '-f', certs[name]!]);
  return /Serial: (\d+)/.exec(r.stdout)![1]!;
};

let otherData: string | undefined;

beforeAll(async () => {
  db = await createTestDatabase(inject('pgAdminUrl'));
  const masterKey = randomBytes(32).toString('base64');
  server = await startRestartableServer({ DATABASE_URL: db.url, TIMEBOX_MASTER_KEY: masterKey });
  otherData = await mkdtemp(path.join(tmpdir(), 'tb-ssh-trust-other-'));
  other = await startChildServer({
    DATABASE_URL: db.url,
    TIMEBOX_MASTER_KEY: masterKey,
    TIMEBOX_DATA_DIR: otherData,
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
  });
  scratch = await mkdtemp(path.join(tmpdir(), 'tb-ssh-trust-'));
  stateDir = await mkdtemp(path.join(tmpdir(), 'tb-ssh-trust-agent-'));
  ns = await createHostNamespace();
  const add = await ns.exec(['useradd', '-m', '-s', '/bin/sh', USER]);
  expect(add.code, add.stderr).toBe(0);
  sshd = await ns.startSshd({ trustedUserCaKeysFile: CA_KEYS, revokedKeysFile: KRL });

  for (const who of ['alice', 'bob'] as const) {
    const email = `${who}.${randomBytes(3).toString('hex')}@example.test`;
    const m = await addMember(server.url, server.admin, 'default', email, ['requester']);
    const key = path.join(scratch, `id_${who}`);
    expect((await runArgv('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', email, '-f', key])).code).toBe(0);
    people[who] = {
      here: m.api,
      there: await signIn(other.url, email, m.password),
      key,
      publicKey: (await readFile(`${key}.pub`, 'utf8')).trim(),
    };
  }
  const target = await server.admin.post(`${T}/targets`, { name: 'bastion', kind: 'ssh-certificate', config: { principalsAllowed: [USER] } });
  expect(target.status).toBe(201);
  targetId = target.body.target.id;
  const policy = await server.admin.post(`${T}/policies`, { name: 'bastion', targetId, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 900 });
  expect(policy.status).toBe(201);
});

afterAll(async () => {
  await agent?.kill9();
  await ns?.destroy();
  await other?.stop();
  await server?.destroy();
  await db?.drop();
  for (const d of [stateDir, scratch, otherData]) if (d) await rm(d, { recursive: true, force: true });
});

it('an enrolled agent writes both trust files as soon as the tenant has an SSH CA', async () => {
  onTestFailed(() => console.error(agent?.output()));
  const tok = await server.admin.post(`${T}/agents/enrolment-tokens`, { name: 'bastion-01' });
  const enrol = cli(['agent', 'enroll', '--server', server.url, '--state-dir', stateDir, '--hostname', 'bastion-01.example.test'], {
    TIMEBOX_ENROLMENT_TOKEN: tok.body.token,
  });
  expect(await enrol.done, enrol.output()).toBe(0);
  // The hourly timer cannot be what brings any change below.
  await writeAgentConfig(stateDir, { backoffMaxMs: 2_000, heartbeatMs: 2_000, sshTrust: { revokedKeysFile: KRL, trustedCaKeysFile: CA_KEYS, refreshSeconds: 3600 } });
  startAgent();
  await waitUntil('the agent found no SSH CA to trust yet', 30_000, async () => {
    if (agent!.child.exitCode !== null) throw new Error(`the agent exited: ${agent!.output()}`);
    return logged('the server publishes no SSH CA for this tenant yet; the trust files are left as they are').length > 0;
  });
  expect(await inside(['ls', KRL])).toBeNull();

  const created = Date.now();
  expect((await server.admin.post(`${T}/ca/ssh`)).status).toBe(200);
  const caKeys = await waitUntil('TrustedUserCAKeys written', 10_000, () => inside(['cat', CA_KEYS]));
  await waitUntil('the KRL written', 10_000, () => inside(['ssh-keygen', '-Q', '-l', '-f', KRL]));
  console.info(`trust files on the host ${Date.now() - created} ms after the CA was created`);
  expect(caKeys).toBe(await (await fetch(new URL(`${T}/ca/ssh`, server.url))).text());
  expect(await inside(['stat', '-c', '%a %U', KRL, CA_KEYS])).toBe('644 root\n644 root\n');
});

it('the system ssh client logs in with a certificate issued through the API during the grant', async () => {
  aliceGrant = await certificateFor('alice', 'alice');
  await certificateFor('bob', 'bob');
  for (const who of ['alice', 'bob'] as const) {
    const r = await login(who, who);
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ code: 0, stdout: `${USER}\n` });
  }
  expect(sshd.log()).toContain(`Accepted certificate ID "timebox:${aliceGrant.id}:`);
});

it('an early revoke made on the other server process refuses the certificate on the host within seconds', async () => {
  onTestFailed(() => console.error(agent?.output(), sshd.log()));
  const serial = await serialOf('alice');
  const revokedAt = Date.now();
  const ended = await people.alice.there.post(`${T}/grants/${aliceGrant.id}/revoke`, { reason: 'patch done early' });
  expect(ended.status).toBe(200);
  expect(ended.body.state).toBe('revoked');

  await waitUntil('the host KRL lists the serial', 10_000, async () => (await inside(['ssh-keygen', '-Q', '-l', '-f', KRL]))?.includes(`serial: ${serial}`));
  const krlDelay = Date.now() - revokedAt;
  await waitUntil('the certificate is refused', 10_000, async () => (await login('alice', 'alice')).code === 255);
  const refusedDelay = Date.now() - revokedAt;
  console.info(`early revoke → KRL on the host: ${krlDelay} ms; → first refused login: ${refusedDelay} ms`);
  expect(refusedDelay).toBeLessThan(5_000);
  // The certificate itself is still within its validity: the KRL is what refuses it.
  expect(Date.now()).toBeLessThan(Date.parse(aliceGrant.expiresAt) - 60_000);
  expect(sshd.log()).toMatch(/revoked by file/);
  expect(logged('SSH trust file updated').at(-1)).toMatchObject({ what: 'KRL', file: KRL, reason: 'server signal' });

  const bob = await login('bob', 'bob');
  expect(bob).toMatchObject({ code: 0, stdout: `${USER}\n` });
});

it('a CA rotation adds the new CA next to the retiring one; certificates of both are accepted', async () => {
  const before = (await inside(['cat', CA_KEYS]))!;
  const rotated = await server.admin.post(`${T}/ca/ssh/rotate`);
  expect(rotated.status).toBe(200);
  const both = await waitUntil('both CAs trusted on the host', 10_000, async () => {
    const keys = await inside(['cat', CA_KEYS]);
    return keys && keys.trim().split('\n').length === 2 ? keys : null;
  });
  // The issuing CA first, then the retiring one, which still has bob's live certificate.
  expect(both).toBe(`${rotated.body.active.publicKey}\n${before}`);
  await certificateFor('alice', 'alice-new-ca');
  expect((await login('alice', 'alice-new-ca')).code).toBe(0);
  expect((await login('bob', 'bob')).code).toBe(0);
  expect((await login('alice', 'alice')).code).toBe(255);
});

it('with the server stopped the files stay in place and keep deciding logins, also across an agent restart', async () => {
  onTestFailed(() => console.error(agent?.output()));
  const files = async () => inside(['sha256sum', KRL, CA_KEYS]);
  const kept = await files();
  await other.stop();
  await server.stop();
  await agent!.kill9();
  startAgent();
  await waitUntil('the restarted agent tried the server', 30_000, async () => logged('SSH trust files not refreshed; sshd keeps using the last good ones').length > 0);
  expect(await files()).toBe(kept);
  expect((await login('alice', 'alice')).code).toBe(255);
  expect((await login('bob', 'bob')).code).toBe(0);
  expect((await login('alice', 'alice-new-ca')).code).toBe(0);
});
