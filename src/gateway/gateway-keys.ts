/**
 * The gateway's two keys, one of each per installation: the host key every gateway presents
 * (people pin its fingerprint) and the CA key that signs operators' short-lived gateway
 * certificates. Generated once, by whichever process needs them first (the insert that loses a
 * race reads the winner's), and kept encrypted with the secret box, bound to their row.
 */
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import { sshFingerprint } from '../credentials/ssh-public-key.js';
import { isWellFormedEd25519, newEd25519KeyPair } from './ed25519-keypair.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import { gatewayDb, storeTxOf } from '../store/schema-gateway.js';
import type { Kysely } from 'kysely';

export type GatewayKeyName = 'host' | 'user_ca';

export interface GatewayKey {
  name: GatewayKeyName;
  /** OpenSSH private key; never logged or returned by the API. */
  privateKey: string;
  /** `ssh-ed25519 AAAA… comment`. */
  publicKey: string;
  /** `SHA256:…`, as ssh-keygen -l and ssh print it. */
  fingerprint: string;
}

export interface GatewayKeysDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
  clock: Clock;
  audit: AuditLog;
}

const context = (name: GatewayKeyName) => `gateway-key:${name}`;
const COMMENT: Record<GatewayKeyName, string> = { host: 'timebox-gateway-host', user_ca: 'timebox-gateway-user-ca' };

export function fingerprintOfLine(publicKey: string): string {
  return sshFingerprint(Buffer.from(publicKey.split(' ')[1] ?? '', 'base64'));
}

function generate(deps: GatewayKeysDeps, name: GatewayKeyName) {
  const pair = newEd25519KeyPair(COMMENT[name]);
  return {
    name,
    algorithm: 'ssh-ed25519',
    public_key: pair.publicKey,
    private_key_enc: deps.secrets.encrypt(pair.privateKey, context(name)),
    created_at: deps.clock.now(),
  };
}

/** The key of that name, generated on first use. */
export async function gatewayKey(deps: GatewayKeysDeps, name: GatewayKeyName): Promise<GatewayKey> {
  const db = gatewayDb(deps.db);
  const read = () => db.selectFrom('gateway_keys').selectAll().where('name', '=', name).executeTakeFirst();
  const open = (r: NonNullable<Awaited<ReturnType<typeof read>>>): GatewayKey => ({
    name,
    privateKey: deps.secrets.decrypt(r.private_key_enc, context(name)),
    publicKey: r.public_key,
    fingerprint: fingerprintOfLine(r.public_key),
  });
  let row = await read();
  if (row) {
    const key = open(row);
    if (isWellFormedEd25519(key.privateKey, key.publicKey)) return key;
    await replaceMalformed(deps, name, row.public_key);
  } else {
    await db.insertInto('gateway_keys').values(generate(deps, name)).onConflict((oc) => oc.column('name').doNothing()).execute();
  }
  row = await read();
  if (!row) throw new Error(`gateway key ${name} vanished while being read`);
  return open(row);
}

/**
 * A key stored by a version whose generator could make an unreadable pair (ed25519-keypair.ts).
 * No gateway could ever load it, so nobody was shown it in use: it is replaced, once (the process
 * whose delete finds the old row does it), and audited.
 */
async function replaceMalformed(deps: GatewayKeysDeps, name: GatewayKeyName, publicKey: string): Promise<void> {
  const fresh = generate(deps, name);
  await gatewayDb(deps.db)
    .transaction()
    .execute(async (tx) => {
      const gone = await tx.deleteFrom('gateway_keys').where('name', '=', name).where('public_key', '=', publicKey).executeTakeFirst();
      if (gone.numDeletedRows === 0n) return;
      await tx.insertInto('gateway_keys').values(fresh).execute();
      await deps.audit.append(storeTxOf(tx), {
        tenantId: null,
        actor: { type: 'system', id: null },
        action: 'gateway.key_replaced',
        subject: { type: 'gateway', id: null },
        reason: 'the stored key could not be read (malformed Ed25519 pair)',
        before: { key: name, publicKey },
        after: { key: name, fingerprint: fingerprintOfLine(fresh.public_key) },
      });
    });
}

/** The host key's public half only (for the API and the CLI), generated on first use. */
export async function gatewayHostKey(deps: GatewayKeysDeps): Promise<{ publicKey: string; fingerprint: string }> {
  const k = await gatewayKey(deps, 'host');
  return { publicKey: k.publicKey, fingerprint: k.fingerprint };
}

/** A new host key; gateways present it from their next start. People must pin the new fingerprint. */
export async function rotateGatewayHostKey(deps: GatewayKeysDeps): Promise<{ before: string | null; after: string }> {
  const db = gatewayDb(deps.db);
  const fresh = generate(deps, 'host');
  return db.transaction().execute(async (tx) => {
    const old = await tx.selectFrom('gateway_keys').select('public_key').where('name', '=', 'host').forUpdate().executeTakeFirst();
    await tx.deleteFrom('gateway_keys').where('name', '=', 'host').execute();
    await tx.insertInto('gateway_keys').values(fresh).execute();
    const before = old ? fingerprintOfLine(old.public_key) : null;
    const after = fingerprintOfLine(fresh.public_key);
    await deps.audit.append(storeTxOf(tx), {
      tenantId: null,
      actor: { type: 'system', id: null },
      action: 'gateway.host_key_rotated',
      subject: { type: 'gateway', id: null },
      before: before ? { fingerprint: before } : null,
      after: { fingerprint: after },
    });
    return { before, after };
  });
}
