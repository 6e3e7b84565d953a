/**
 * X.509 client certificates against a real TLS server (node:tls, OpenSSL underneath) that requires
 * a client certificate from the tenant's CAs and checks their CRLs: accepted during validity,
 * refused after expiry and after revocation (server reloaded with the new CRL), across a rotation.
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { runArgv } from '../harness/sshd.js';
import { credentialKit, scratchDir, seconds, type CredentialKit } from './support.js';

let kit: CredentialKit;
let scratch: Awaited<ReturnType<typeof scratchDir>>;
let tenantId: string;
let server: { key: string; cert: string };

interface TlsServer {
  port: number;
  /** Why the server refused clients (OpenSSL's verification error code, e.g. CERT_REVOKED). */
  refusals: string[];
  reload(trust: { ca: string[]; crl: string[] }): void;
  close(): Promise<void>;
}

async function startTlsServer(trust: { ca: string[]; crl: string[] }): Promise<TlsServer> {
  const refusals: string[] = [];
  const options = (t: typeof trust) => ({ key: server.key, cert: server.cert, ca: t.ca, crl: t.crl });
  const srv = tls.createServer({ ...options(trust), requestCert: true, rejectUnauthorized: true }, (socket) => {
    socket.end(`hello ${String(socket.getPeerCertificate().subject?.CN)}\n`);
  });
  // With rejectUnauthorized Node drops the connection itself; the verification result stays on the socket.
  srv.on('tlsClientError', (err, socket) => refusals.push(String(socket.authorizationError ?? err.message)));
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as { port: number }).port,
    refusals,
    // New connections use the new CA list and CRLs; what a server does when its CRL is refreshed.
    reload: (t) => srv.setSecureContext(options(t)),
    close: () => new Promise<void>((resolve) => srv.close(() => resolve())),
  };
}

/** Connects with a client certificate; ok only when the server's greeting arrives. */
function connect(port: number, client: { key: string; cert: string }): Promise<{ ok: boolean; greeting: string; error?: string }> {
  return new Promise((resolve) => {
    let greeting = '';
    let error: string | undefined;
    const socket = tls.connect({ host: '127.0.0.1', port, key: client.key, cert: client.cert, ca: server.cert });
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (greeting += d));
    socket.on('error', (e) => (error = e.message));
    socket.on('close', () => resolve({ ok: greeting.startsWith('hello '), greeting: greeting.trim(), ...(error ? { error } : {}) }));
  });
}

async function trustOf(t: string) {
  return { ca: await kit.x509.trustedCaCertificates(t), crl: (await kit.crl.buildForTenant(t)).map((c) => c.pem) };
}

async function issueNew(lifetimeMs = 10 * 60_000, t = tenantId) {
  const now = Date.now();
  const issued = await kit.x509.issueWithNewKey({
    tenantId: t,
    grantId: randomUUID(),
    subject: 'alice',
    emails: ['alice@example.com'],
    notBefore: new Date(now - seconds(1)),
    notAfter: new Date(now + lifetimeMs),
  });
  return { ...issued, key: issued.privateKey, cert: issued.certificate };
}

beforeAll(async () => {
  kit = await credentialKit(systemClock);
  scratch = await scratchDir();
  tenantId = await kit.tenant();
  // The TLS server's own certificate comes from the openssl CLI: nothing about it is Timebox's.
  const [key, cert] = [path.join(scratch.dir, 'server.key'), path.join(scratch.dir, 'server.pem')];
  const res = await runArgv('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1',
  ]);
  expect(res.code, res.stderr).toBe(0);
  server = { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
});

afterAll(async () => {
  await kit?.close();
  await scratch?.remove();
});

describe('TLS server requiring client certificates from the tenant CA (with CRL)', () => {
  it('accepts a certificate during its validity; names and extensions are what we asked for', async () => {
    const client = await issueNew();
    const srv = await startTlsServer(await trustOf(tenantId));
    try {
      expect(await connect(srv.port, client)).toEqual({ ok: true, greeting: 'hello alice' });
    } finally {
      await srv.close();
    }
    const text = await opensslText(client.cert);
    expect(text).toContain('TLS Web Client Authentication');
    expect(text).toContain('email:alice@example.com');
    expect(text).toMatch(/CA:FALSE/);
    expect(text).toContain(`Serial Number: ${BigInt(client.serial)}`);
  });

  it('refuses it once it has expired', async () => {
    const srv = await startTlsServer(await trustOf(tenantId));
    try {
      // A short validity, doubled until the first connection lands inside it (a busy machine may
      // take longer than 3 s between issuing and connecting); what is proven stays the same.
      let lifetime = seconds(3);
      let client = await issueNew(lifetime);
      while (!(await connect(srv.port, client)).ok) {
        expect(lifetime).toBeLessThan(seconds(48));
        lifetime *= 2;
        client = await issueNew(lifetime);
      }
      // Clock-driven: wait (bounded) for the end of validity on this machine's clock.
      const deadline = +client.notAfter + seconds(15);
      let result = await connect(srv.port, client);
      while (result.ok && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        result = await connect(srv.port, client);
      }
      expect(result.ok).toBe(false);
      expect(Date.now()).toBeGreaterThanOrEqual(+client.notAfter - seconds(1));
      expect(srv.refusals).toContain('CERT_HAS_EXPIRED');
    } finally {
      await srv.close();
    }
  });

  it('refuses it after early revocation once the server has the new CRL', async () => {
    const client = await issueNew();
    const other = await issueNew();
    const srv = await startTlsServer(await trustOf(tenantId));
    try {
      expect((await connect(srv.port, client)).ok).toBe(true);
      const { crls } = await kit.x509.revoke(client.credentialId, 'keyCompromise');
      expect(crls).toHaveLength(1);
      expect(+crls[0]!.nextUpdate - +crls[0]!.thisUpdate).toBe(3600_000);
      srv.reload({ ca: await kit.x509.trustedCaCertificates(tenantId), crl: crls.map((c) => c.pem) });
      expect((await connect(srv.port, client)).ok).toBe(false);
      expect(srv.refusals).toContain('CERT_REVOKED');
      expect((await connect(srv.port, other)).ok).toBe(true);

      // The DER form says the same to openssl's own verifier.
      const [caPem] = await kit.x509.trustedCaCertificates(tenantId);
      const files = await writeAll({ 'ca.pem': caPem!, 'crl.der': crls[0]!.der, 'c.pem': client.cert });
      const verify = await runArgv('openssl', ['verify', '-crl_check', '-CAfile', files['ca.pem']!, '-CRLfile', files['crl.der']!, files['c.pem']!]);
      expect(verify.stdout + verify.stderr).toContain('certificate revoked');
    } finally {
      await srv.close();
    }
  });

  it('issues from a CSR: proof of possession from the CSR, names from the request', async () => {
    const keyFile = path.join(scratch.dir, 'csr.key');
    const csrFile = path.join(scratch.dir, 'req.csr');
    const gen = await runArgv('openssl', [
      'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csrFile, '-subj', '/CN=admin/O=Evil Corp',
    ]);
    expect(gen.code, gen.stderr).toBe(0);
    const issued = await kit.x509.issue({
      tenantId,
      grantId: randomUUID(),
      subject: 'bob',
      csr: await readFile(csrFile, 'utf8'),
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 60_000),
    });
    const text = await opensslText(issued.certificate);
    expect(text).toMatch(/Subject: CN ?= ?bob\n/);
    expect(text).not.toContain('Evil Corp');
    const srv = await startTlsServer(await trustOf(tenantId));
    try {
      const res = await connect(srv.port, { key: await readFile(keyFile, 'utf8'), cert: issued.certificate });
      expect(res).toEqual({ ok: true, greeting: 'hello bob' });
    } finally {
      await srv.close();
    }
  });

  it('refuses a certificate from another tenant\'s CA', async () => {
    const otherTenant = await kit.tenant();
    const foreign = await issueNew(60_000, otherTenant);
    const srv = await startTlsServer(await trustOf(tenantId));
    try {
      expect((await connect(srv.port, foreign)).ok).toBe(false);
      expect(srv.refusals).toEqual(['UNABLE_TO_VERIFY_LEAF_SIGNATURE']); // issuer not among the trusted CAs
    } finally {
      await srv.close();
    }
  });

  it('after rotation: new certificates come from the new CA, both CAs are trusted until the old one drains', async () => {
    const t = await kit.tenant();
    const old = await issueNew(60_000, t);
    const { active, retiring } = await kit.cas.rotate(t, 'x509');
    const fresh = await issueNew(60_000, t);
    expect(fresh.caKeyId).toBe(active.keyId);
    expect(old.caKeyId).toBe(retiring!.keyId);
    const trust = await trustOf(t);
    expect(trust.ca).toHaveLength(2);
    expect(trust.crl).toHaveLength(2);
    const srv = await startTlsServer(trust);
    try {
      expect((await connect(srv.port, old)).ok).toBe(true);
      expect((await connect(srv.port, fresh)).ok).toBe(true);
      // Without the old CA (what relying parties get once it has drained), its certificates fail.
      srv.reload({ ca: [trust.ca[0]!], crl: [trust.crl[0]!] });
      expect((await connect(srv.port, old)).ok).toBe(false);
      expect((await connect(srv.port, fresh)).ok).toBe(true);
    } finally {
      await srv.close();
    }
  });
});

async function writeAll(files: Record<string, string | Buffer>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, content] of Object.entries(files)) {
    out[name] = path.join(scratch.dir, `${randomUUID()}-${name}`);
    await writeFile(out[name]!, content, { mode: 0o600 });
  }
  return out;
}

async function opensslText(pem: string): Promise<string> {
  const { 'c.pem': file } = await writeAll({ 'c.pem': pem });
  const res = await runArgv('openssl', ['x509', '-noout', '-text', '-in', file!]);
  expect(res.code, res.stderr).toBe(0);
  return res.stdout;
}
