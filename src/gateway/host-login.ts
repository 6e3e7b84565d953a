/**
 * How the gateway logs in to a host for a session: with the grant's password (linux-agent JIT
 * accounts), or with an OpenSSH user certificate Timebox issues for the session (SSH-certificate
 * targets, and existing users of linux-agent-users hosts whose sshd trusts the tenant's SSH CA).
 *
 * The `ssh2` client cannot present a certificate (it sends a certificate's key type as the
 * signature's algorithm too, which sshd refuses: the signature inside must say `ssh-ed25519`).
 * `presentCertificate` fills that gap for one connection: it answers the client's public-key
 * request for our certificate key with the request RFC 4252 and PROTOCOL.certkeys describe, and
 * leaves every other request to ssh2. It relies on ssh2 1.x internals (the protocol object's
 * `authPK`, its session id and packet writer), checked at use: a changed ssh2 fails the login
 * with a clear error, never a wrong packet.
 */
import { createRequire } from 'node:module';
import ssh2, { type Client, type ConnectConfig, type ParsedKey, type PublicKeyAuthMethod } from 'ssh2';
import type { GrantCertificates, LoginCertificateLimits } from './grant-certificates.js';

export const ED25519_CERT_TYPE = 'ssh-ed25519-cert-v01@openssh.com';
const USERAUTH_REQUEST = 50;

/** What the gateway logs in with, decided per session from the grant. */
export type HostCredential =
  | { kind: 'password'; password: string }
  | { kind: 'certificate'; tenantId: string; grantId: string; operatorId: string; subject: string; grantEnd: Date; limits?: LoginCertificateLimits };

export interface HostLogin {
  /** Authentication options for `Client.connect` (user name and host settings are the caller's). */
  options: Pick<ConnectConfig, 'password' | 'tryKeyboard' | 'authHandler'>;
  /** Called right after `connect()`, before the handshake: installs what the login needs. */
  attach(client: Client): void;
}

const require = createRequire(import.meta.url);

function sshString(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

interface ProtocolInternals {
  authPK(username: string, key: unknown, keyAlgo?: unknown, cbSign?: unknown): void;
  _kex?: { sessionID?: Buffer };
  _packetRW?: { write?: { alloc(n: number): Buffer; allocStart: number; finalize(p: Buffer): Buffer } };
  _authsQueue?: string[];
}

type SignCallback = (data: Buffer, done: (signature: Buffer) => void) => void;

/** The parsed private key dressed as its certificate: ssh2 offers the certificate blob and signs with the key. */
export function certificateKey(privateKey: string, certificateLine: string): ParsedKey {
  const parsedOrList = ssh2.utils.parseKey(privateKey);
  const parsed = Array.isArray(parsedOrList) ? parsedOrList[0] : parsedOrList;
  if (!parsed || parsed instanceof Error || parsed.type !== 'ssh-ed25519') throw new Error('the login key must be an Ed25519 private key');
  const [type, b64] = certificateLine.trim().split(/\s+/);
  if (type !== ED25519_CERT_TYPE || !b64) throw new Error('the login certificate must be an Ed25519 user certificate');
  const blob = Buffer.from(b64, 'base64');
  // Everything else (the private key, signing) comes from the parsed key through the prototype.
  return Object.create(parsed, {
    type: { value: ED25519_CERT_TYPE },
    getPublicSSH: { value: () => blob },
  }) as ParsedKey;
}

/** Makes `client` sign in with `key` (from certificateKey) correctly. Call right after connect(). */
export function presentCertificate(client: Client, key: ParsedKey): void {
  const proto = (client as unknown as { _protocol?: ProtocolInternals })._protocol;
  const { sendPacket } = require('ssh2/lib/protocol/utils.js') as { sendPacket?: (p: unknown, packet: Buffer) => void };
  if (!proto || typeof proto.authPK !== 'function' || typeof sendPacket !== 'function') {
    throw new Error('this ssh2 version cannot be taught to present certificates (protocol internals changed)');
  }
  const original = proto.authPK.bind(proto);
  const blob = key.getPublicSSH();
  proto.authPK = function authPK(username: string, pubKey: unknown, keyAlgo?: unknown, cbSign?: unknown) {
    const sign = (typeof keyAlgo === 'function' ? keyAlgo : cbSign) as SignCallback | undefined;
    // ssh2's own request is right without a signature (the query) and for any other key.
    if (pubKey !== key || !sign) return original(username, pubKey, keyAlgo, cbSign);
    const sessionId = proto._kex?.sessionID;
    if (!sessionId || !proto._packetRW?.write || !proto._authsQueue) throw new Error('this ssh2 version cannot be taught to present certificates (protocol internals changed)');
    const request = Buffer.concat([
      Buffer.from([USERAUTH_REQUEST]),
      sshString(username),
      sshString('ssh-connection'),
      sshString('publickey'),
      Buffer.from([1]),
      sshString(ED25519_CERT_TYPE),
      sshString(blob),
    ]);
    sign(Buffer.concat([sshString(sessionId), request]), (signature) => {
      // The certificate's algorithm names the key; the signature's names the plain key type.
      const payload = Buffer.concat([request, sshString(Buffer.concat([sshString('ssh-ed25519'), sshString(signature)]))]);
      const w = proto._packetRW!.write!;
      const packet = w.alloc(payload.length);
      payload.copy(packet, w.allocStart);
      proto._authsQueue!.push('publickey');
      sendPacket(proto, w.finalize(packet));
    });
  };
}

/** The login for one session; a certificate is issued here, once per session. */
export async function hostLogin(certificates: GrantCertificates, account: string, credential: HostCredential, opts: { forwarding?: boolean } = {}): Promise<HostLogin> {
  if (credential.kind === 'password') {
    return { options: { password: credential.password, tryKeyboard: false }, attach: () => {} };
  }
  const issued = await certificates.issue({
    tenantId: credential.tenantId,
    grantId: credential.grantId,
    operatorId: credential.operatorId,
    subject: credential.subject,
    account,
    grantEnd: credential.grantEnd,
    ...(credential.limits ? { limits: credential.limits } : {}),
    forwarding: opts.forwarding === true,
  });
  const key = certificateKey(issued.privateKey, issued.certificate);
  const methods: PublicKeyAuthMethod[] = [{ type: 'publickey', username: account, key }];
  return {
    options: { authHandler: methods },
    attach: (client) => presentCertificate(client, key),
  };
}
