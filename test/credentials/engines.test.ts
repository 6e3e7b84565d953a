/**
 * The engines' storage and rules with a fake clock: CA keys encrypted at rest and bound to their
 * row, unique serials, exact validity, rotation with overlap for every kind, KRL and CRL contents,
 * and bad input refused before anything is signed or recorded.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeClock } from '../../src/core/clock.js';
import { credentialsDb } from '../../src/credentials/types.js';
import type { CaKind } from '../../src/store/schema-credentials.js';
import { runArgv } from '../harness/sshd.js';
import { credentialKit, scratchDir, type CredentialKit } from './support.js';

const clock = fakeClock('2026-05-01T09:00:00.000Z');
const MIN = 60_000;
let kit: CredentialKit;
let scratch: Awaited<ReturnType<typeof scratchDir>>;
let userKey: string;

const db = () => credentialsDb(kit.store.db);
const window = (minutes: number) => ({ notBefore: clock.now(), notAfter: new Date(+clock.now() + minutes * MIN) });

async function tool(file: string, args: string[], input?: { name: string; content: string | Buffer }) {
  const extra: string[] = [];
  if (input) {
    const p = path.join(scratch.dir, `${randomUUID()}-${input.name}`);
    await writeFile(p, input.content, { mode: 0o600 });
    extra.push(p);
  }
  const res = await runArgv(file, [...args, ...extra], { env: { ...process.env, TZ: 'UTC' } });
  expect(res.code, res.stderr).toBe(0);
  return res.stdout;
}

/** Issues one credential of the given kind; returns its id and the CA key id that signed it. */
async function issueOne(kind: CaKind, tenantId: string, minutes = 30, grantId: string | null = randomUUID()) {
  const w = window(minutes);
  if (kind === 'ssh') {
    const c = await kit.ssh.issue({ tenantId, grantId, subject: 'alice', publicKey: userKey, principals: ['alice'], ...w });
    return { id: c.credentialId, caKeyId: c.caKeyId, serial: c.serial, certificate: c.certificate };
  }
  if (kind === 'x509') {
    const c = await kit.x509.issue({ tenantId, grantId, subject: 'alice', publicKey: kit.x509.generateKeyPair().publicKey, ...w });
    return { id: c.credentialId, caKeyId: c.caKeyId, serial: c.serial, certificate: c.certificate };
  }
  const t = await kit.tokens.issue({ tenantId, grantId, subject: 'alice', scope: ['read'], audience: 'api', ...w });
  return { id: t.credentialId, caKeyId: t.keyId, serial: '', certificate: t.token };
}

beforeAll(async () => {
  kit = await credentialKit(clock);
  scratch = await scratchDir();
  userKey = (await kit.ssh.generateKeyPair()).publicKey;
});
afterAll(async () => {
  await kit?.close();
  await scratch?.remove();
});

describe('certificate authorities', () => {
  it('creates one active CA per tenant and kind, even when asked concurrently', async () => {
    const t = await kit.tenant();
    const cas = await Promise.all([1, 2, 3].map(() => kit.cas.ensureActive(t, 'ssh')));
    expect(new Set(cas.map((c) => c.id)).size).toBe(1);
    expect(cas[0]!.publicKey).toMatch(/^ssh-ed25519 AAAA\S+ timebox-ca:/);
    expect((await kit.cas.ensureActive(t, 'x509')).algorithm).toBe('ecdsa-p256');
    expect((await kit.cas.ensureActive(t, 'jwt')).algorithm).toBe('EdDSA');
    expect(await kit.cas.list(t)).toHaveLength(3);
  });

  it('keeps private keys encrypted, bound to their own row (ca:<id>)', async () => {
    const t = await kit.tenant();
    const a = await kit.cas.ensureActive(t, 'ssh');
    const b = (await kit.cas.rotate(t, 'ssh')).active;
    const plain = await kit.cas.privateKey(a.id);
    expect(plain).toContain('BEGIN OPENSSH PRIVATE KEY');
    const rows = await db().selectFrom('certificate_authorities').selectAll().where('tenant_id', '=', t).execute();
    const body = plain.split('\n')[1]!;
    expect(JSON.stringify(rows)).not.toContain(body);
    // A ciphertext copied onto another CA's row does not decrypt there.
    const encA = rows.find((r) => r.id === a.id)!.private_key_enc;
    await db().updateTable('certificate_authorities').set({ private_key_enc: encA }).where('id', '=', b.id).execute();
    await expect(kit.cas.privateKey(b.id)).rejects.toThrow(/cannot decrypt secret/);
  });
});

describe('SSH certificates', () => {
  it('have unique serials, the exact validity, the key id, and only permit-pty', async () => {
    const t = await kit.tenant();
    const grantId = randomUUID();
    const w = { notBefore: new Date('2026-05-01T09:00:00.700Z'), notAfter: new Date('2026-05-01T09:30:00.900Z') };
    const certs = [];
    for (let i = 0; i < 3; i++) {
      certs.push(await kit.ssh.issue({ tenantId: t, grantId, subject: 'alice@example.com', publicKey: userKey, principals: ['alice', 'deploy'], ...w }));
    }
    expect(certs.map((c) => c.serial)).toEqual(['1', '2', '3']);
    const text = await tool('ssh-keygen', ['-L', '-f'], { name: 'c-cert.pub', content: certs[0]!.certificate });
    expect(text).toContain(`Key ID: "timebox:${grantId}:alice@example.com"`);
    expect(text).toContain('Serial: 1');
    // Second resolution, never past the grant's end.
    expect(text).toContain('Valid: from 2026-05-01T09:00:00 to 2026-05-01T09:30:00');
    expect(text).toMatch(/Principals: \n\s+alice\n\s+deploy\n/);
    expect(text).toMatch(/Critical Options: \(none\)\n\s+Extensions: \n\s+permit-pty\n?$/);
    expect(certs[0]!.notAfter).toEqual(new Date('2026-05-01T09:30:00.000Z'));
  });

  it('carries requested extensions and critical options', async () => {
    const t = await kit.tenant();
    const c = await kit.ssh.issue({
      tenantId: t,
      grantId: null,
      subject: 'bob',
      publicKey: userKey,
      principals: ['bob'],
      extensions: ['permit-pty', 'permit-port-forwarding'],
      forceCommand: '/usr/bin/systemctl restart app',
      sourceAddresses: ['10.0.0.0/8', '192.168.1.5'],
      ...window(10),
    });
    const text = await tool('ssh-keygen', ['-L', '-f'], { name: 'o-cert.pub', content: c.certificate });
    expect(text).toContain('force-command /usr/bin/systemctl restart app');
    expect(text).toContain('source-address 10.0.0.0/8,192.168.1.5');
    expect(text).toContain('permit-port-forwarding');
    expect(text).not.toContain('permit-agent-forwarding');
    expect(c.keyId).toBe('timebox:none:bob');
  });

  it('refuses bad input before signing: no serial used, nothing recorded', async () => {
    const t = await kit.tenant();
    const base = { tenantId: t, grantId: null, subject: 'alice', publicKey: userKey, principals: ['alice'], ...window(10) };
    const bad: Array<[Partial<typeof base> & Record<string, unknown>, RegExp]> = [
      [{ publicKey: 'ssh-dss AAAAB3NzaC1kc3M=' }, /DSA keys are weak/],
      [{ principals: ['alice,root'] }, /contains ','/],
      [{ principals: ['alice root'] }, /whitespace/],
      [{ notAfter: clock.now() }, /at least one second after it starts/],
      [{ notBefore: new Date(+clock.now() - 20 * MIN), notAfter: new Date(+clock.now() - MIN) }, /already ended/],
      [{ subject: 'bad\nsubject' }, /control characters/],
      [{ extensions: ['permit-everything'] }, /unknown SSH certificate extension/],
      [{ sourceAddresses: ['10.0.0.0/33'] }, /not an IP address or CIDR/],
      [{ forceCommand: 'a\nb' }, /force-command/],
    ];
    for (const [change, message] of bad) {
      await expect(kit.ssh.issue({ ...base, ...change } as typeof base)).rejects.toThrow(message);
    }
    expect(await db().selectFrom('issued_credentials').selectAll().where('tenant_id', '=', t).execute()).toEqual([]);
    const ca = await kit.cas.ensureActive(t, 'ssh');
    const row = await db().selectFrom('certificate_authorities').select('last_serial').where('id', '=', ca.id).executeTakeFirstOrThrow();
    expect(row.last_serial).toBe('0');
  });

  it('signs FIDO security keys too', async () => {
    const t = await kit.tenant();
    const str = (b: Buffer | string) => Buffer.concat([Buffer.from([0, 0, 0, Buffer.from(b).length]), Buffer.from(b)]);
    const blob = Buffer.concat([str('sk-ssh-ed25519@openssh.com'), str(Buffer.alloc(32, 9)), str('ssh:')]);
    const c = await kit.ssh.issue({
      tenantId: t, grantId: null, subject: 'yubikey-user', principals: ['alice'], ...window(10),
      publicKey: `sk-ssh-ed25519@openssh.com ${blob.toString('base64')}`,
    });
    expect(c.certificate).toMatch(/^sk-ssh-ed25519-cert-v01@openssh\.com /);
  });

  it('KRL lists revoked serials of the tenant, until they are long expired', async () => {
    const t = await kit.tenant();
    const a = await issueOne('ssh', t, 10);
    await issueOne('ssh', t, 10);
    const b = await issueOne('ssh', t, 10);
    await kit.ssh.revoke(a.id);
    const { krl } = await kit.ssh.revoke(b.id, 'keyCompromise');
    const listing = await tool('ssh-keygen', ['-Q', '-l', '-f'], { name: 'krl', content: krl });
    // Serials 1 and 3 revoked, 2 not (ssh-keygen prints adjacent serials as ranges).
    expect(listing.match(/^serial: .*$/gm)).toEqual([`serial: ${a.serial}`, `serial: ${b.serial}`]);
    // Past expiry plus the grace period, the entries are dropped: the certificates are dead anyway.
    clock.advance(10 * MIN + 24 * 3600_000 + 1000);
    const later = await tool('ssh-keygen', ['-Q', '-l', '-f'], { name: 'krl2', content: await kit.krl.build(t) });
    expect(later).not.toMatch(/^serial:/m);
  });
});

describe('X.509', () => {
  it('CRL is signed by the CA, lists revoked serials with reasons, and expires in an hour', async () => {
    clock.set('2026-06-01T09:00:00.000Z'); // later than earlier tests moved it, for readable dates
    const t = await kit.tenant();
    const a = await issueOne('x509', t);
    await issueOne('x509', t);
    const { crls } = await kit.x509.revoke(a.id, 'keyCompromise');
    const [caPem] = await kit.x509.trustedCaCertificates(t);
    const caFile = path.join(scratch.dir, `${randomUUID()}-ca.pem`);
    await writeFile(caFile, caPem!);
    const text = await tool('openssl', ['crl', '-inform', 'DER', '-noout', '-text', '-CAfile', caFile, '-in'], { name: 'crl.der', content: crls[0]!.der });
    expect(text).toContain(`Serial Number: ${BigInt(a.serial).toString(16).toUpperCase().padStart(2, '0')}`);
    expect(text).toContain('Key Compromise');
    expect(text).toContain('X509v3 CRL Number');
    expect(text).toContain('Last Update: Jun  1 09:00:00 2026 GMT');
    expect(text).toContain('Next Update: Jun  1 10:00:00 2026 GMT');
    const verify = await runArgv('openssl', ['crl', '-noout', '-CAfile', caFile, '-in', await file('crl.pem', crls[0]!.pem)]);
    expect(verify.stderr).toContain('verify OK');
  });

  it('refuses bad input with clear messages', async () => {
    const t = await kit.tenant();
    const key = kit.x509.generateKeyPair().publicKey;
    const base = { tenantId: t, grantId: null, subject: 'alice', ...window(10) };
    await expect(kit.x509.issue({ ...base })).rejects.toThrow(/exactly one of csr/);
    await expect(kit.x509.issue({ ...base, publicKey: key, csr: 'x' })).rejects.toThrow(/exactly one of csr/);
    await expect(kit.x509.issue({ ...base, publicKey: key, subject: 'x'.repeat(65) })).rejects.toThrow(/longer than 64/);
    await expect(kit.x509.issue({ ...base, publicKey: key, emails: ['not an email'] })).rejects.toThrow(/not an e-mail address/);
    await expect(kit.x509.issue({ ...base, publicKey: key, uris: ['relative/path'] })).rejects.toThrow(/not an absolute ASCII URI/);
    expect(await db().selectFrom('issued_credentials').selectAll().where('tenant_id', '=', t).execute()).toEqual([]);
  });
});

describe('tokens', () => {
  it('refuses bad scopes and audiences', async () => {
    const t = await kit.tenant();
    const base = { tenantId: t, grantId: null, subject: 'bot', scope: ['read'], audience: 'api', ...window(10) };
    await expect(kit.tokens.issue({ ...base, scope: ['read write'] })).rejects.toThrow(/not a valid scope token/);
    await expect(kit.tokens.issue({ ...base, scope: [] })).rejects.toThrow(/at least one scope/);
    await expect(kit.tokens.issue({ ...base, audience: '' })).rejects.toThrow(/audience/);
  });
});

describe.each(['ssh', 'x509', 'jwt'] as const)('rotation (%s)', (kind) => {
  it('new credentials come from the new CA; the old one stays published until its credentials expire', async () => {
    const t = await kit.tenant();
    const old = await issueOne(kind, t, 30);
    const oldCa = await kit.cas.ensureActive(t, kind);
    const { active, retiring } = await kit.cas.rotate(t, kind);
    expect(retiring?.id).toBe(oldCa.id);
    expect(retiring?.status).toBe('retiring');
    const fresh = await issueOne(kind, t, 120);
    expect(fresh.caKeyId).toBe(active.keyId);
    expect(fresh.caKeyId).not.toBe(old.caKeyId);

    const published = await kit.cas.published(t, kind);
    expect(published.map((c) => [c.keyId, c.status, c.trustedUntil])).toEqual([
      [active.keyId, 'active', null],
      [oldCa.keyId, 'retiring', new Date(+clock.now() + 30 * MIN)],
    ]);
    clock.advance(30 * MIN - 1000);
    expect(await kit.cas.published(t, kind)).toHaveLength(2);
    clock.advance(1000);
    expect((await kit.cas.published(t, kind)).map((c) => c.keyId)).toEqual([active.keyId]);
    const retired = (await kit.cas.list(t, kind)).find((c) => c.id === oldCa.id)!;
    expect(retired.status).toBe('retired');
    expect(retired.retiredAt).toEqual(clock.now());
    const actions = await kit.store.db.selectFrom('audit_events').select('action').where('tenant_id', '=', t).orderBy('seq').execute();
    expect(actions.map((a) => a.action).filter((a) => a.startsWith('ca.'))).toEqual(['ca.created', 'ca.rotated', 'ca.retired']);
  });
});

describe('revocation by grant', () => {
  it('revokes every credential of a grant at once', async () => {
    const t = await kit.tenant();
    const grantId = randomUUID();
    const ids = [(await issueOne('ssh', t, 30, grantId)).id, (await issueOne('x509', t, 30, grantId)).id, (await issueOne('jwt', t, 30, grantId)).id];
    const other = await issueOne('jwt', t, 30);
    const revoked = await kit.issued.revokeForGrant(grantId, 'cessationOfOperation');
    expect(revoked.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(revoked.every((r) => r.revocationReason === 'cessationOfOperation' && r.revokedAt)).toBe(true);
    expect((await kit.issued.get(other.id))?.revokedAt).toBeNull();
    await expect(kit.issued.revoke(other.id, 'because' as never)).rejects.toThrow(/unknown revocation reason/);
  });
});

async function file(name: string, content: string): Promise<string> {
  const p = path.join(scratch.dir, `${randomUUID()}-${name}`);
  await writeFile(p, content, { mode: 0o600 });
  return p;
}
