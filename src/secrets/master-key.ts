/**
 * Finds the master key that wraps every data key (see envelope.ts).
 *
 * 1. TIMEBOX_MASTER_KEY (64 hex characters or base64 of 32 bytes): for deployments that keep the
 *    key in a secret manager, away from the database backups.
 * 2. Otherwise <dataDir>/master.key, created on first start, readable by the owner only.
 *
 * Error messages never contain the key or any part of it.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createOwnerOnlyFile, readOwnerOnlyFile } from './key-file.js';
import { SettingsError } from '../core/errors.js';

const KEY_BYTES = 32;
const ENV_NAME = 'TIMEBOX_MASTER_KEY';
export const MASTER_KEY_FILE = 'master.key';

export interface LoadMasterKeyOptions {
  env: Record<string, string | undefined>;
  /** The embedded store's folder; the key file lives next to the database. */
  dataDir?: string;
}

export interface LoadedMasterKey {
  key: Buffer;
  source: 'env' | 'file';
  /** True when this call generated a new key file (first start). */
  created: boolean;
}

export async function loadMasterKey(opts: LoadMasterKeyOptions): Promise<LoadedMasterKey> {
  const fromEnv = opts.env[ENV_NAME];
  if (fromEnv !== undefined) {
    // Set but empty is almost always a broken deployment template; silently falling back to a
    // new key file would make every existing secret undecryptable later.
    if (fromEnv.trim() === '') throw new SettingsError(`${ENV_NAME} is set but empty; ${HOW_TO_GENERATE}`);
    return { key: parseKey(fromEnv, ENV_NAME), source: 'env', created: false };
  }
  const dataDir = opts.dataDir;
  if (!dataDir) {
    throw new SettingsError(`no master key: set ${ENV_NAME} (${HOW_TO_GENERATE}) or use a data directory`);
  }
  if (dataDir.startsWith('memory://')) {
    throw new SettingsError(`no master key: an in-memory store has nowhere to keep ${MASTER_KEY_FILE}; set ${ENV_NAME}`);
  }
  const path = join(dataDir, MASTER_KEY_FILE);
  const existing = await readKeyFile(path);
  if (existing) return { key: existing, source: 'file', created: false };
  return createKeyFile(path);
}

const HOW_TO_GENERATE = 'generate one with `openssl rand -base64 32`';

/** Accepts 64 hex characters, or standard/url-safe base64 decoding to exactly 32 bytes. */
function parseKey(text: string, where: string): Buffer {
  const s = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) {
    const key = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === KEY_BYTES) return key;
  }
  throw new SettingsError(`${where} must be a ${KEY_BYTES}-byte key written as 64 hex characters or base64; ${HOW_TO_GENERATE}`);
}

async function readKeyFile(path: string): Promise<Buffer | null> {
  const text = await readOwnerOnlyFile(path, 'master key file');
  return text === null ? null : parseKey(text, `master key file ${path}`);
}

async function createKeyFile(path: string): Promise<LoadedMasterKey> {
  const key = randomBytes(KEY_BYTES);
  if (await createOwnerOnlyFile(path, `${key.toString('base64')}\n`)) return { key, source: 'file', created: true };
  const winner = await readKeyFile(path);
  if (!winner) throw new Error(`master key file ${path} vanished while starting`);
  return { key: winner, source: 'file', created: false };
}
