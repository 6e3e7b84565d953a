/**
 * The audit checkpoint signing key (Ed25519), never stored in the database.
 *
 * 1. TIMEBOX_AUDIT_SIGNING_KEY: a PKCS#8 PEM (`openssl genpkey -algorithm ed25519`), for
 *    deployments with a secret manager and for several servers sharing one database.
 * 2. Otherwise <dataDir>/audit-signing-key.pem, created on first start, readable by the owner only.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { keyIdOf } from './checkpoints.js';

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
    if (fromEnv.trim() === '') throw new Error(`${ENV_NAME} is set but empty; generate one with \`openssl genpkey -algorithm ed25519\``);
    // Deployment templates often carry a PEM on one line with literal \n.
    return describe(parseKey(fromEnv.replace(/\\n/g, '\n'), ENV_NAME), 'env', false);
  }
  if (opts.dataDir.startsWith('memory://')) {
    throw new Error(`no audit signing key: an in-memory store has nowhere to keep ${SIGNING_KEY_FILE}; set ${ENV_NAME}`);
  }
  const path = join(opts.dataDir, SIGNING_KEY_FILE);
  const existing = await readKeyFile(path);
  if (existing) return describe(existing, 'file', false);
  return describe(await createKeyFile(opts.dataDir, path), 'file', true);
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
    throw new Error(`${where} is not a PEM private key; generate one with \`openssl genpkey -algorithm ed25519\``);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${where} must be an Ed25519 key, not ${key.asymmetricKeyType}`);
  return key;
}

async function readKeyFile(path: string): Promise<KeyObject | null> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (!info.isFile()) throw new Error(`audit signing key file ${path} is not a regular file`);
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(3, '0');
    throw new Error(`audit signing key file ${path} is accessible by group or other users (mode ${mode}); restrict it with: chmod 600 ${path}`);
  }
  return parseKey(await readFile(path, 'utf8'), `audit signing key file ${path}`);
}

async function createKeyFile(dataDir: string, path: string): Promise<KeyObject> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const tmp = join(dataDir, `.${SIGNING_KEY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // O_EXCL + 0600 from the first byte; link() below refuses to replace a key another process made.
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await fh.writeFile(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'utf8');
    await fh.chmod(0o600);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = await readKeyFile(path);
    if (winner) return winner;
    throw err;
  } finally {
    await unlink(tmp).catch(() => {});
  }
  return privateKey;
}
