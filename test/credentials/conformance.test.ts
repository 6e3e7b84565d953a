/**
 * The credential conformance suite for the three credential-shaped kinds, each judged by a real
 * relying party: SSH certificates by sshd (TrustedUserCAKeys, and RevokedKeys rewritten from the
 * tenant's KRL before every login) with the system ssh client; X.509 client certificates by
 * openssl verify with the tenant's CA and CRL, and the role's URI in the certificate; security
 * tokens by the JWT signature against the tenant's keys and RFC 7662 introspection.
 */
import { X509Certificate } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { systemClock } from '../../src/core/clock.js';
import { describeCredentialConformance } from '../../src/connectors/credential-conformance.js';
import { securityTokenConnector, sshCertificateConnector, x509CertificateConnector } from '../../src/connectors/credentials/index.js';
import { runArgv, sshLogin, startSshd } from '../harness/sshd.js';
import { credentialKit, scratchDir } from './support.js';

describeCredentialConformance('ssh-certificate (sshd with the KRL)', async () => {
  const kit = await credentialKit(systemClock);
  const scratch = await scratchDir();
  const tenantId = await kit.tenant();
  await kit.cas.ensureActive(tenantId, 'ssh');
  const krlFile = path.join(scratch.dir, 'revoked_keys');
  const refreshKrl = async () => {
    await writeFile(`${krlFile}.new`, await kit.krl.build(tenantId), { mode: 0o644 });
    await rename(`${krlFile}.new`, krlFile);
  };
  await refreshKrl();
  const key = await kit.ssh.generateKeyPair('conformance');
  const keyFile = path.join(scratch.dir, 'id_ed25519');
  await writeFile(keyFile, key.privateKey, { mode: 0o600 });
  const sshd = await startSshd({ users: ['tbdeploy', 'tbops'], trustedUserCaKeys: await kit.ssh.trustedCaKeys(tenantId), revokedKeysFile: krlFile });
  let n = 0;
  return {
    definition: sshCertificateConnector,
    config: sshCertificateConnector.configSchema.parse({ principalsAllowed: ['tbdeploy', 'tbops'] }),
    services: { credentials: kit, clock: systemClock },
    tenantId,
    entitlements: ['tbdeploy', 'tbops'],
    notAllowed: 'tbroot',
    publicKey: key.publicKey,
    async accepts(credential, principal) {
      await refreshKrl();
      const certificateFile = path.join(scratch.dir, `cert-${++n}.pub`);
      await writeFile(certificateFile, `${credential.certificate}\n`, { mode: 0o644 });
      const res = await sshLogin({ port: sshd.port, user: principal, identityFile: keyFile, certificateFile, command: ['id', '-un'] });
      return res.code === 0 && res.stdout.trim() === principal;
    },
    async cleanup() {
      await sshd.stop();
      await kit.close();
      await scratch.remove();
    },
  };
});

describeCredentialConformance('x509-certificate (openssl verify with the CRL)', async () => {
  const kit = await credentialKit(systemClock);
  const scratch = await scratchDir();
  const tenantId = await kit.tenant();
  await kit.cas.ensureActive(tenantId, 'x509');
  const config = x509CertificateConnector.configSchema.parse({ roles: ['reader', 'writer'] });
  let n = 0;
  return {
    definition: x509CertificateConnector,
    config,
    services: { credentials: kit, clock: systemClock },
    tenantId,
    entitlements: ['reader', 'writer'],
    notAllowed: 'admin',
    async accepts(credential, role) {
      const dir = scratch.dir;
      const id = ++n;
      const files = { ca: path.join(dir, `ca-${id}.pem`), crl: path.join(dir, `crl-${id}.pem`), cert: path.join(dir, `c-${id}.pem`) };
      await writeFile(files.ca, (await kit.x509.trustedCaCertificates(tenantId)).join('\n'));
      await writeFile(files.crl, (await kit.crl.buildForTenant(tenantId)).map((c) => c.pem).join('\n'));
      await writeFile(files.cert, credential.certificate!);
      const verify = await runArgv('openssl', ['verify', '-crl_check', '-CAfile', files.ca, '-CRLfile', files.crl, files.cert]);
      if (verify.code !== 0) return false;
      const uris = (new X509Certificate(credential.certificate!).subjectAltName ?? '').split(', ');
      return uris.includes(`URI:${config.roleUriPrefix}${role}`);
    },
    async cleanup() {
      await kit.close();
      await scratch.remove();
    },
  };
});

describeCredentialConformance('security-token (signature and introspection)', async () => {
  const kit = await credentialKit(systemClock);
  const tenantId = await kit.tenant();
  await kit.cas.ensureActive(tenantId, 'jwt');
  return {
    definition: securityTokenConnector,
    config: securityTokenConnector.configSchema.parse({ audience: 'https://api.example.test', scopes: ['logs:read', 'logs:write'] }),
    services: { credentials: kit, clock: systemClock },
    tenantId,
    entitlements: ['logs:read', 'logs:write'],
    notAllowed: 'admin:all',
    async accepts(credential, scope) {
      const seen = await kit.tokens.introspect(tenantId, credential.token!);
      return seen.active && seen.scope.split(' ').includes(scope) && seen.aud === 'https://api.example.test';
    },
    async cleanup() {
      await kit.close();
    },
  };
});
