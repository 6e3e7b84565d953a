/**
 * The audit checkpoint signing key (Ed25519), never stored in the database.
 *
 * 1. TIMEBOX_AUDIT_SIGNING_KEY: a PKCS#8 PEM (`openssl genpkey -algorithm ed25519`), for
 *    deployments with a secret manager and for several servers sharing one database.
 * 2. Otherwise <dataDir>/audit-signing-key.pem, created on first start, readable by the owner only.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { createOwnerOnlyFile, readOwnerOnlyFile } from '../secrets/key-file.js';
import { keyIdOf } from './checkpoints.js';
import { SettingsError } from '../core/errors.js';

const ENV_NAME = 'TIMEBOX_AUDIT_SIGNING_KEY';
export const SIGNING_KEY_FILE = 'audit-signing-key.pem';

export interface AuditSigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM: what an auditor needs to check checkpoints offline. */
  publicKeyPem: string;
  keyId: string;
  source: 'env' | 'file';
  created: boolean;
}

export async function loadAuditSigningKey(opts: { env: Record<string, string | undefined>; dataDir: string }): Promise<AuditSigningKey> {
  const fromEnv = opts.env[ENV_NAME];
  if (fromEnv !== undefined) {
    if (fromEnv.trim() === '') throw new SettingsError(`${ENV_NAME} is set but empty; generate one with \`openssl genpkey -algorithm ed25519\``);
    // Deployment templates often carry a PEM on one line with literal \n.
    return describe(parseKey(fromEnv.replace(/\\n/g, '\n'), ENV_NAME), 'env', false);
  }
  if (opts.dataDir.startsWith('memory://')) {
    throw new SettingsError(`no audit signing key: an in-memory store has nowhere to keep ${SIGNING_KEY_FILE}; set ${ENV_NAME}`);
  }
  const path = join(opts.dataDir, SIGNING_KEY_FILE);
  const existing = await readKeyFile(path);
  if (existing) return describe(existing, 'file', false);
  const made = await createKeyFile(path);
  return describe(made.key, 'file', made.created);
}

function describe(privateKey: KeyObject, source: 'env' | 'file', created: boolean): AuditSigningKey {
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
    source,
    created,
  };
}

function parseKey(pem: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new SettingsError(`${where} is not a PEM private key; generate one with \`openssl genpkey -algorithm ed25519\``);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new SettingsError(`${where} must be an Ed25519 key, not ${key.asymmetricKeyType}`);
  return key;
}

async function readKeyFile(path: string): Promise<KeyObject | null> {
  const text = await readOwnerOnlyFile(path, 'audit signing key file');
  return text === null ? null : parseKey(text, `audit signing key file ${path}`);
}

async function createKeyFile(path: string): Promise<{ key: KeyObject; created: boolean }> {
  const { privateKey } = generateKeyPairSync('ed25519');
  if (await createOwnerOnlyFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())) return { key: privateKey, created: true };
  const winner = await readKeyFile(path);
  if (!winner) throw new Error(`audit signing key file ${path} vanished while starting`);
  return { key: winner, created: false };
}
