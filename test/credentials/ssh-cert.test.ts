/**
 * SSH certificates against a real sshd (TrustedUserCAKeys + RevokedKeys) and the system ssh client:
 * logins work during the certificate's validity and as a listed principal only, stop after expiry,
 * stop at once after early revocation through the KRL, and survive a CA rotation.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { runArgv, sshLogin, startSshd, type Sshd } from '../harness/sshd.js';
import { credentialKit, scratchDir, seconds, type CredentialKit } from './support.js';

let kit: CredentialKit;
let sshd: Sshd;
let scratch: Awaited<ReturnType<typeof scratchDir>>;
let tenantId: string;
let krlFile: string;
let key: { privateKey: string; publicKey: string };
let keyFile: string;
const USER = 'tbalice';
const OTHER = 'tbbob';

/** Replaces the KRL atomically, as a host agent must: sshd re-reads it on every login. */
async function installKrl(bytes: Buffer) {
  await writeFile(`${krlFile}.new`, bytes, { mode: 0o644 });
  await rename(`${krlFile}.new`, krlFile);
}

async function saveCert(name: string, certificate: string): Promise<string> {
  const file = path.join(scratch.dir, name);
  await writeFile(file, `${certificate}\n`, { mode: 0o644 });
  return file;
}

async function issue(opts: { principals?: string[]; lifetimeMs?: number; tenant?: string } = {}) {
  const now = Date.now();
  return kit.ssh.issue({
    tenantId: opts.tenant ?? tenantId,
    grantId: randomUUID(),
    subject: 'alice@example.com',
    publicKey: key.publicKey,
    principals: opts.principals ?? [USER],
    notBefore: new Date(now - seconds(1)),
    notAfter: new Date(now + (opts.lifetimeMs ?? 10 * 60_000)),
  });
}

const login = (user: string, certificateFile: string, identityFile = keyFile) =>
  sshLogin({ port: sshd.port, user, identityFile, certificateFile, command: ['id', '-un'] });

beforeAll(async () => {
  kit = await credentialKit(systemClock);
  scratch = await scratchDir();
  tenantId = await kit.tenant();
  await kit.cas.ensureActive(tenantId, 'ssh');
  krlFile = path.join(scratch.dir, 'revoked_keys');
  await installKrl(await kit.krl.build(tenantId));
  key = await kit.ssh.generateKeyPair('alice');
  keyFile = path.join(scratch.dir, 'id_ed25519');
  await writeFile(keyFile, key.privateKey, { mode: 0o600 });
  sshd = await startSshd({ users: [USER, OTHER], trustedUserCaKeys: await kit.ssh.trustedCaKeys(tenantId), revokedKeysFile: krlFile });
});

afterAll(async () => {
  await sshd?.stop();
  await kit?.close();
  await scratch?.remove();
});

describe('sshd with TrustedUserCAKeys and RevokedKeys', () => {
  it('creates test users only inside the namespace: the host /etc/passwd never sees them', async () => {
    const inside = await sshd.exec(['getent', 'passwd', USER]);
    expect(inside.code).toBe(0);
    expect(inside.stdout).toContain(`${USER}:`);
    const hostPasswd = await readFile('/etc/passwd', 'utf8');
    expect(hostPasswd).not.toMatch(new RegExp(`^${USER}:`, 'm'));
    expect(hostPasswd).not.toMatch(new RegExp(`^${OTHER}:`, 'm'));
  });

  it('logs in with a certificate during its validity; sshd logs the key id and serial', async () => {
    const cert = await issue();
    const res = await login(USER, await saveCert('valid-cert.pub', cert.certificate));
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toBe(USER);
    expect(sshd.log()).toContain(`Accepted certificate ID "${cert.keyId}" (serial ${cert.serial})`);
    expect(cert.keyId).toMatch(/^timebox:[0-9a-f-]{36}:alice@example\.com$/);
  });

  it('refuses the plain key without its certificate (no standing authorized_keys access)', async () => {
    const res = await sshLogin({ port: sshd.port, user: USER, identityFile: keyFile, command: ['id'] });
    expect(res.code).toBe(255);
    expect(res.stderr).toContain('Permission denied');
  });

  it('refuses a principal the certificate does not list', async () => {
    const cert = await issue({ principals: [USER] });
    const res = await login(OTHER, await saveCert('alice-only-cert.pub', cert.certificate));
    expect(res.code).toBe(255);
    expect(res.stderr).toContain('Permission denied');
    expect(sshd.log()).toContain('name is not a listed principal');
  });

  it('refuses a certificate once it has expired', async () => {
    const cert = await issue({ lifetimeMs: seconds(3) });
    const file = await saveCert('short-cert.pub', cert.certificate);
    expect((await login(USER, file)).code).toBe(0);
    // Clock-driven: wait (bounded) until the certificate's end has passed on this machine's clock.
    const deadline = +cert.notAfter + seconds(15);
    let refused = false;
    while (!refused && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      refused = (await login(USER, file)).code !== 0;
    }
    expect(refused).toBe(true);
    expect(Date.now()).toBeGreaterThanOrEqual(+cert.notAfter);
    expect(sshd.log()).toMatch(/Certificate invalid: expired/);
  });

  it('refuses a certificate at once after early revocation through the KRL', async () => {
    const cert = await issue();
    const file = await saveCert('revoked-cert.pub', cert.certificate);
    expect((await login(USER, file)).code).toBe(0);
    const { credential, krl } = await kit.ssh.revoke(cert.credentialId, 'privilegeWithdrawn');
    expect(credential.revokedAt).toBeInstanceOf(Date);
    await installKrl(krl);
    const res = await login(USER, file);
    expect(res.code).toBe(255);
    expect(sshd.log()).toContain('revoked by file');
    // Another, unrevoked certificate of the same CA still works: only that serial is revoked.
    expect((await login(USER, await saveCert('other-cert.pub', (await issue()).certificate))).code).toBe(0);
  });

  it('issues a key pair for a user who has none; the key and certificate log in', async () => {
    const issued = await kit.ssh.issueWithNewKey({
      tenantId,
      grantId: randomUUID(),
      subject: 'carol@example.com',
      principals: [USER],
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 60_000),
    });
    expect(issued.privateKey).toContain('BEGIN OPENSSH PRIVATE KEY');
    const idFile = path.join(scratch.dir, 'carol');
    await writeFile(idFile, issued.privateKey, { mode: 0o600 });
    const res = await login(USER, await saveCert('carol-cert.pub', issued.certificate), idFile);
    expect(res.code).toBe(0);
    // The private key is returned, never stored.
    const rows = JSON.stringify(await kit.store.db.selectFrom('audit_events').selectAll().execute());
    expect(rows).not.toContain(issued.privateKey.split('\n')[1]);
  });

  it('after rotation trusts old and new CA until the old one drains; then its key is in the KRL', async () => {
    const t2 = await kit.tenant();
    const old = await issue({ tenant: t2 });
    const { active, retiring } = await kit.cas.rotate(t2, 'ssh');
    expect(retiring?.keyId).toBe(old.caKeyId);
    const fresh = await issue({ tenant: t2 });
    expect(fresh.caKeyId).toBe(active.keyId);
    expect(fresh.caKeyId).not.toBe(old.caKeyId);

    // Hosts install what Timebox publishes: both CA keys and the tenant's KRL.
    const published = await kit.ssh.trustedCaKeys(t2);
    expect(published.trim().split('\n')).toHaveLength(2);
    await sshd.setTrustedUserCaKeys(published);
    await installKrl(await kit.krl.build(t2));
    const oldFile = await saveCert('old-ca-cert.pub', old.certificate);
    const freshFile = await saveCert('new-ca-cert.pub', fresh.certificate);
    expect((await login(USER, oldFile)).code).toBe(0);
    expect((await login(USER, freshFile)).code).toBe(0);

    // The old CA's last certificate ends (revoked here): the CA retires and leaves the published set.
    await kit.issued.revoke(old.credentialId, 'superseded');
    expect((await kit.cas.published(t2, 'ssh')).map((c) => c.keyId)).toEqual([active.keyId]);
    // A host that never refreshed TrustedUserCAKeys still refuses the retired CA: its key is in the KRL.
    await installKrl(await kit.krl.build(t2));
    const listing = await runArgv('ssh-keygen', ['-Q', '-l', '-f', krlFile]);
    expect(listing.stdout).toContain(`hash: ${old.caKeyId}`);
    expect((await login(USER, oldFile)).code).toBe(255);
    expect((await login(USER, freshFile)).code).toBe(0);
  });
});
