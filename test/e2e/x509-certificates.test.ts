/**
 * X.509 client certificates from grants, end to end through the API of a real server and a real
 * TLS server (node:tls, OpenSSL underneath) that requires a client certificate from the CA
 * bundle fetched from Timebox's public endpoint and checks the CRL fetched from it too: the
 * certificate works during the grant, is refused after an early revoke once the server has
 * reloaded the CRL, and after the grant's end (real time: OpenSSL judges validity by this
 * machine's clock). Roles become URI SANs. Bad keys and CSRs are a 400 that creates nothing.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsDb } from '../../src/credentials/types.js';
import { scratchDir } from '../credentials/support.js';
import { runArgv } from '../harness/sshd.js';
import type { ApiClient } from '../support/http.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';

const T = '/api/v1/tenants/default';
let server: TestServer;
let scratch: Awaited<ReturnType<typeof scratchDir>>;
let bob: ApiClient;
let targetId: string;
let tlsIdentity: { key: string; cert: string };
const email = `bob.${randomBytes(3).toString('hex')}@example.com`;

interface TlsServer {
  port: number;
  /** OpenSSL's verification error for each refused client (e.g. CERT_REVOKED). */
  refusals: string[];
  reload(): Promise<void>;
  close(): Promise<void>;
}

const blocks = (pem: string, label: string) => pem.match(new RegExp(`-----BEGIN ${label}-----[^-]+-----END ${label}-----`, 'g')) ?? [];

/** What a relying party fetches: the CA bundle and the CRLs (PEM), from the public endpoints. */
async function trust(): Promise<{ ca: string[]; crl: string[] }> {
  const ca = await fetch(new URL(`${T}/ca/x509`, server.url));
  const crl = await fetch(new URL(`${T}/ca/x509/crl?format=pem`, server.url));
  expect([ca.status, crl.status]).toEqual([200, 200]);
  return { ca: blocks(await ca.text(), 'CERTIFICATE'), crl: blocks(await crl.text(), 'X509 CRL') };
}

async function startTlsServer(): Promise<TlsServer> {
  const refusals: string[] = [];
  const options = async () => ({ ...tlsIdentity, ...(await trust()) });
  const srv = tls.createServer({ ...(await options()), requestCert: true, rejectUnauthorized: true }, (socket) => {
    const peer = socket.getPeerCertificate();
    socket.end(`hello ${String(peer.subject?.CN)} ${String(peer.subjectaltname)}\n`);
  });
  srv.on('tlsClientError', (err, socket) => refusals.push(String(socket.authorizationError ?? err.message)));
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as { port: number }).port,
    refusals,
    // What a server does on its CRL refresh timer: new connections use the new CA list and CRL.
    reload: async () => srv.setSecureContext(await options()),
    close: () => new Promise<void>((resolve) => srv.close(() => resolve())),
  };
}

function connect(port: number, client: { key: string; cert: string }): Promise<{ ok: boolean; greeting: string }> {
  return new Promise((resolve) => {
    let greeting = '';
    const socket = tls.connect({ host: '127.0.0.1', port, key: client.key, cert: client.cert, ca: tlsIdentity.cert });
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (greeting += d));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ ok: greeting.startsWith('hello '), greeting: greeting.trim() }));
  });
}

async function openssl(args: string[]) {
  const res = await runArgv('openssl', args);
  expect(res.code, res.stderr).toBe(0);
  return res;
}

/** A key and CSR made by the openssl CLI, as a requester would. */
async function csr(keyArgs: string[], name = randomBytes(3).toString('hex')): Promise<{ key: string; csr: string }> {
  const [key, req] = [path.join(scratch.dir, `${name}.key`), path.join(scratch.dir, `${name}.csr`)];
  await openssl(['req', '-new', '-newkey', ...keyArgs, '-nodes', '-keyout', key, '-out', req, '-subj', '/CN=ignored-by-timebox']);
  return { key: await readFile(key, 'utf8'), csr: await readFile(req, 'utf8') };
}

const request = (body: Record<string, unknown>) =>
  bob.post(`${T}/requests`, { targetId, durationSeconds: 600, reason: 'INC-77 inspect the billing API', ...body });

async function counts() {
  const db = credentialsDb(server.tb.store.db);
  const n = async (table: 'grants' | 'jit_accounts' | 'access_requests' | 'issued_credentials') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return { grants: await n('grants'), accounts: await n('jit_accounts'), requests: await n('access_requests'), issued: await n('issued_credentials') };
}

beforeAll(async () => {
  server = await startTestServer();
  scratch = await scratchDir();
  const added = await server.admin.post(`${T}/targets`, {
    name: 'billing-api',
    kind: 'x509-certificate',
    config: { roles: ['billing-admin', 'billing-reader'] },
  });
  expect(added.status).toBe(201);
  expect(added.body.check.ok).toBe(true);
  targetId = added.body.target.id;
  expect(
    (await server.admin.post(`${T}/policies`, { name: 'mtls', targetId, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 })).status,
  ).toBe(201);
  bob = await addOperator(server, email, ['requester']);
  expect((await server.admin.post(`${T}/ca/x509`)).status).toBe(200);

  // The TLS server's own certificate is the openssl CLI's: nothing about it is Timebox's.
  const [key, cert] = [path.join(scratch.dir, 'server.key'), path.join(scratch.dir, 'server.pem')];
  await openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1',
  ]);
  tlsIdentity = { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
});

afterAll(async () => {
  await server?.close();
  await scratch?.remove();
});

describe('public X.509 endpoints', () => {
  it('serve the CA bundle and a DER CRL (PEM on request) that openssl reads, without authentication', async () => {
    const ca = await fetch(new URL(`${T}/ca/x509`, server.url));
    expect(ca.headers.get('content-type')).toBe('application/x-pem-file');
    expect(ca.headers.get('cache-control')).toBe('public, max-age=60');
    const caFile = path.join(scratch.dir, 'ca.pem');
    await writeFile(caFile, await ca.text());

    const der = await fetch(new URL(`${T}/ca/x509/crl`, server.url));
    expect(der.headers.get('content-type')).toBe('application/pkix-crl');
    expect(der.headers.get('cache-control')).toBe('public, no-cache');
    const crlFile = path.join(scratch.dir, 'crl.der');
    await writeFile(crlFile, Buffer.from(await der.arrayBuffer()));
    // The CRL is signed by the published CA.
    const checked = await openssl(['crl', '-inform', 'DER', '-in', crlFile, '-CAfile', caFile, '-noout', '-nextupdate']);
    expect(checked.stderr).toMatch(/verify OK/);
    // Unchanged CRL: the same bytes (and ETag) until something is revoked.
    const etag = der.headers.get('etag')!;
    expect((await fetch(new URL(`${T}/ca/x509/crl`, server.url), { headers: { 'if-none-match': etag } })).status).toBe(304);
  });
});

describe('a grant issues an X.509 client certificate valid exactly for the grant', () => {
  it('from a CSR: accepted during the grant with the roles as URI SANs; refused after revoke once the CRL is reloaded', async () => {
    const mine = await csr(['ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    const res = await request({ entitlements: ['billing-admin'], publicKey: mine.csr });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ state: 'active', username: email });
    const cred = await bob.post(`${T}/grants/${res.body.id}/credential`);
    expect(cred.status).toBe(200);
    expect(cred.body.privateKey).toBeUndefined();
    const cert = new X509Certificate(cred.body.certificate);
    expect(cert.subject).toBe(`CN=${email}`);
    expect(cert.subjectAltName).toBe(`email:${email}, URI:urn:timebox:role:billing-admin`);
    // Valid for the grant: X.509's notAfter is inclusive, so it ends one second before the grant.
    expect(new Date(cert.validFrom).getTime()).toBe(Math.floor(+new Date(res.body.startsAt) / 1000) * 1000);
    expect(new Date(cert.validTo).getTime()).toBe(Math.floor(+new Date(res.body.expiresAt) / 1000) * 1000 - 1000);
    expect(cred.body.caPublicKey).toContain('BEGIN CERTIFICATE');

    const srv = await startTlsServer();
    try {
      const client = { key: mine.key, cert: cred.body.certificate };
      expect(await connect(srv.port, client)).toEqual({ ok: true, greeting: `hello ${email} email:${email}, URI:urn:timebox:role:billing-admin` });

      const ended = await bob.post(`${T}/grants/${res.body.id}/revoke`, { reason: 'done early' });
      expect(ended.body).toMatchObject({ state: 'revoked' });
      // Until the server reloads its CRL, it still accepts: the CRL is what revokes.
      expect((await connect(srv.port, client)).ok).toBe(true);
      await srv.reload();
      expect((await connect(srv.port, client)).ok).toBe(false);
      expect(srv.refusals).toContain('CERT_REVOKED');
    } finally {
      await srv.close();
    }
  });

  it('with a generated key for a short grant: accepted during it, refused once it has ended', async () => {
    const res = await request({ entitlements: ['billing-reader'], durationSeconds: 12 });
    expect(res.status).toBe(201);
    const cred = await bob.post(`${T}/grants/${res.body.id}/credential`);
    expect(cred.body.privateKey).toContain('BEGIN PRIVATE KEY');
    const client = { key: cred.body.privateKey, cert: cred.body.certificate };
    const srv = await startTlsServer();
    try {
      expect((await connect(srv.port, client)).ok).toBe(true);
      const end = +new Date(res.body.expiresAt);
      const deadline = end + 20_000;
      let result = await connect(srv.port, client);
      while (result.ok && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        result = await connect(srv.port, client);
      }
      expect(result.ok).toBe(false);
      // Not before the certificate's own (inclusive) end, which is one second before the grant's.
      expect(Date.now()).toBeGreaterThanOrEqual(new Date(new X509Certificate(client.cert).validTo).getTime());
      expect(Date.now()).toBeGreaterThanOrEqual(end - 2000);
      expect(srv.refusals).toContain('CERT_HAS_EXPIRED');
    } finally {
      await srv.close();
    }
  });
});

describe('bad input is a 400 that creates nothing', () => {
  it.each([
    ['a CSR with an RSA 1024 key', async () => (await csr(['rsa:1024'])).csr, /CSR: RSA keys must have at least 2048 bits, this one has 1024/],
    [
      'a CSR whose signature does not verify',
      async () => {
        const pem = (await csr(['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'])).csr;
        const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
        der[der.length - 5] ^= 0x01; // inside the signature
        return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
      },
      /CSR: (its signature does not verify|not a readable)/,
    ],
    ['a private key', async () => (await csr(['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'])).key, /PRIVATE key/],
    ['garbage', async () => 'not a key', /expected exactly one PEM block/],
  ])('refuses %s', async (_what, key, message) => {
    const before = await counts();
    const res = await request({ entitlements: ['billing-reader'], publicKey: await key() });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(message);
    expect(await counts()).toEqual(before);
  });

  it("refuses Bob's key to anybody else (as a CSR or as the bare public key); Bob still uses it", async () => {
    const name = `bob-${randomBytes(3).toString('hex')}`;
    const mine = await csr(['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], name);
    const granted = await request({ entitlements: ['billing-reader'], publicKey: mine.csr });
    expect(granted.status, JSON.stringify(granted.body)).toBe(201);
    await bob.post(`${T}/grants/${granted.body.id}/revoke`, { reason: 'done' });

    const carol = await addOperator(server, `carol.${randomBytes(3).toString('hex')}@example.com`, ['requester']);
    const spki = (await openssl(['pkey', '-in', path.join(scratch.dir, `${name}.key`), '-pubout'])).stdout;
    const before = await counts();
    for (const publicKey of [mine.csr, spki]) {
      const res = await carol.post(`${T}/requests`, { targetId, durationSeconds: 600, reason: 'INC-78 inspect billing', entitlements: ['billing-reader'], publicKey });
      expect(res.status, JSON.stringify(res.body)).toBe(409);
      expect(res.body.error.message).toMatch(/^this public key is already certified for another person/);
    }
    expect(await counts()).toEqual(before);

    const again = await request({ entitlements: ['billing-reader'], publicKey: spki });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    await bob.post(`${T}/grants/${again.body.id}/revoke`, { reason: 'done' });
  });

  it('refuses a role the target does not have, or a malformed one', async () => {
    const before = await counts();
    const missing = await request({ entitlements: ['root'] });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/no entitlement named "root"/);
    const bad = await request({ entitlements: ['billing admin'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/role "billing admin" must be/);
    expect(await counts()).toEqual(before);
  });
});
