/**
 * How an enrolled agent proves who it is on every request: an Ed25519 signature (the private key
 * never leaves the host) over a canonical string of the agent id, method, path with query,
 * timestamp, a random nonce and the SHA-256 of the body. The server rejects timestamps outside a
 * window and any nonce it has already seen in that window (replays). Used by both sides.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

export const AGENT_HEADER = 'x-timebox-agent';
export const TIMESTAMP_HEADER = 'x-timebox-timestamp';
export const NONCE_HEADER = 'x-timebox-nonce';
export const SIGNATURE_HEADER = 'x-timebox-signature';

/** How far a request's timestamp may be from the server's time (either way). */
export const SIGNATURE_WINDOW_MS = 60_000;

const SCHEME = 'timebox-agent-v1';
export const NONCE_RE = /^[A-Za-z0-9_-]{16,64}$/;
/** An Ed25519 signature is 64 bytes: 86 base64url characters. */
export const SIGNATURE_RE = /^[A-Za-z0-9_-]{86}$/;

export interface SignedParts {
  agentId: string;
  method: string;
  /** The request target exactly as sent: path plus query string. */
  path: string;
  timestampMs: number;
  nonce: string;
  /** The raw body bytes (empty for none). */
  body: string | Buffer;
}

export const bodyHash = (body: string | Buffer) => createHash('sha256').update(body).digest('hex');

export function canonicalRequest(p: SignedParts): string {
  return [SCHEME, p.agentId, p.method.toUpperCase(), p.path, String(p.timestampMs), p.nonce, bodyHash(p.body)].join('\n');
}

export function signRequest(key: KeyObject, p: Omit<SignedParts, 'timestampMs' | 'nonce'>, nowMs = Date.now()): Record<string, string> {
  const parts: SignedParts = { ...p, timestampMs: nowMs, nonce: randomBytes(18).toString('base64url') };
  const signature = sign(null, Buffer.from(canonicalRequest(parts), 'utf8'), key).toString('base64url');
  return {
    [AGENT_HEADER]: p.agentId,
    [TIMESTAMP_HEADER]: String(parts.timestampMs),
    [NONCE_HEADER]: parts.nonce,
    [SIGNATURE_HEADER]: signature,
  };
}

export function verifySignature(publicKey: KeyObject, p: SignedParts, signature: string): boolean {
  if (!SIGNATURE_RE.test(signature)) return false;
  try {
    return verify(null, Buffer.from(canonicalRequest(p), 'utf8'), publicKey, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

/** A new Ed25519 key pair: private key as PKCS#8 PEM (kept on the host), public as SPKI PEM (sent). */
export function generateAgentKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Parses an SPKI PEM and insists on Ed25519; throws what is wrong with it ("is not …") otherwise. */
export function parseAgentPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('is not a PEM public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`must be an Ed25519 key, not ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

export function loadAgentPrivateKey(pem: string): KeyObject {
  const key = createPrivateKey({ key: pem, format: 'pem' });
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the agent key is not an Ed25519 key');
  return key;
}
