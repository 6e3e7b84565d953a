/**
 * Where the gateway reaches a target's host: address, port and the host key it must present (the
 * gateway sends the grant's password or certificate only to that key). Set by those who manage
 * targets. An SSH-certificate target (a CA many hosts may trust) is reached at this one host.
 */
import { isIP } from 'node:net';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import { badRequest, notFound } from '../core/errors.js';
import { parseSshPublicKey } from '../credentials/ssh-public-key.js';
import type { Database } from '../store/schema.js';
import { gatewayDb, storeTxOf } from '../store/schema-gateway.js';
import { GATEWAY_TARGET_KINDS } from './gateway-access.js';

export interface DestinationsDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  clock: Clock;
}

export interface DestinationView {
  targetId: string;
  host: string;
  port: number;
  hostKey: string;
  hostKeyFingerprint: string;
  updatedAt: Date;
}

/** A DNS name: dot-separated labels, none empty; nothing a URL or an option could hide in. */
const DNS_NAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * A DNS name or an IP address as `net` reads it. A name whose last label is all digits is neither
 * (`10.0.0.256`, `1.2.3`): it would be looked up as a name and fail at the first session.
 */
const isHost = (host: string) => isIP(host) !== 0 || (DNS_NAME.test(host) && !/(^|\.)\d+\.?$/.test(host));

export async function getDestination(deps: DestinationsDeps, tenantId: string, targetId: string): Promise<DestinationView | null> {
  const r = await gatewayDb(deps.db).selectFrom('gateway_destinations').selectAll().where('target_id', '=', targetId).where('tenant_id', '=', tenantId).executeTakeFirst();
  return r ? { targetId: r.target_id, host: r.host, port: r.port, hostKey: r.host_key, hostKeyFingerprint: parseSshPublicKey(r.host_key).fingerprint, updatedAt: r.updated_at } : null;
}

export async function setDestination(
  deps: DestinationsDeps,
  actorId: string,
  tenantId: string,
  targetId: string,
  input: { host: string; port: number; hostKey: string },
): Promise<DestinationView> {
  if (!isHost(input.host)) throw badRequest('host must be a DNS name or an IP address');
  // `ssh-keyscan` prints "host keytype base64": the host part is dropped here.
  const parts = input.hostKey.trim().split(/\s+/);
  const line = parts.length >= 3 && !parts[0]!.startsWith('ssh-') && !parts[0]!.startsWith('ecdsa-') ? parts.slice(1).join(' ') : input.hostKey;
  const key = parseSshPublicKey(line);
  const db = gatewayDb(deps.db);
  const target = await db.selectFrom('targets').select(['id', 'kind']).where('id', '=', targetId).where('tenant_id', '=', tenantId).executeTakeFirst();
  if (!target) throw notFound(`target ${targetId}`);
  if (!GATEWAY_TARGET_KINDS.includes(target.kind)) {
    throw badRequest(`the gateway reaches Linux host targets only (${GATEWAY_TARGET_KINDS.join(', ')}), not ${target.kind} targets`);
  }
  const now = deps.clock.now();
  await db.transaction().execute(async (tx) => {
    const values = { target_id: targetId, tenant_id: tenantId, host: input.host, port: input.port, host_key: key.line, updated_at: now };
    await tx
      .insertInto('gateway_destinations')
      .values(values)
      .onConflict((oc) => oc.column('target_id').doUpdateSet({ host: values.host, port: values.port, host_key: values.host_key, updated_at: now }))
      .execute();
    await deps.audit.append(storeTxOf(tx), {
      tenantId,
      actor: { type: 'operator', id: actorId },
      action: 'gateway.destination_set',
      subject: { type: 'target', id: targetId },
      after: { host: input.host, port: input.port, hostKeyFingerprint: key.fingerprint },
    });
  });
  return { targetId, host: input.host, port: input.port, hostKey: key.line, hostKeyFingerprint: key.fingerprint, updatedAt: now };
}
