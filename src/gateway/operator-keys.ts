/** Public keys people register in their profile to pass the gateway without a certificate. */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { AuditInput, AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import { conflict, notFound } from '../core/errors.js';
import { parseSshPublicKey } from '../credentials/ssh-public-key.js';
import type { Database } from '../store/schema.js';
import { gatewayDb, storeTxOf } from '../store/schema-gateway.js';

export interface OperatorKeysDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  clock: Clock;
}

export interface OperatorKeyView {
  id: string;
  name: string;
  publicKey: string;
  fingerprint: string;
  createdAt: Date;
}

export const MAX_KEYS_PER_OPERATOR = 20;

export async function listOperatorKeys(deps: OperatorKeysDeps, operatorId: string): Promise<OperatorKeyView[]> {
  const rows = await gatewayDb(deps.db).selectFrom('operator_ssh_keys').selectAll().where('operator_id', '=', operatorId).orderBy('created_at').execute();
  return rows.map((r) => ({ id: r.id, name: r.name, publicKey: r.public_key, fingerprint: r.fingerprint, createdAt: r.created_at }));
}

export async function addOperatorKey(deps: OperatorKeysDeps, operatorId: string, input: { name: string; publicKey: string }): Promise<OperatorKeyView> {
  const key = parseSshPublicKey(input.publicKey);
  const id = randomUUID();
  const now = deps.clock.now();
  return gatewayDb(deps.db)
    .transaction()
    .execute(async (tx) => {
      // Serialises one person's additions, so the cap holds under concurrent requests.
      await tx.selectFrom('operators').select('id').where('id', '=', operatorId).forUpdate().executeTakeFirst();
      const owner = await tx.selectFrom('operator_ssh_keys').select('operator_id').where('fingerprint', '=', key.fingerprint).executeTakeFirst();
      // One key, one person: the gateway must know whose session it records.
      if (owner) throw conflict(owner.operator_id === operatorId ? 'this key is already in your profile' : 'this key is registered to someone else; generate your own');
      const count = await tx.selectFrom('operator_ssh_keys').select((eb) => eb.fn.countAll<string>().as('n')).where('operator_id', '=', operatorId).executeTakeFirstOrThrow();
      if (Number(count.n) >= MAX_KEYS_PER_OPERATOR) throw conflict(`at most ${MAX_KEYS_PER_OPERATOR} keys per person; remove one first`);
      await tx.insertInto('operator_ssh_keys').values({ id, operator_id: operatorId, name: input.name, public_key: key.line, fingerprint: key.fingerprint, created_at: now }).execute();
      await deps.audit.append(storeTxOf(tx), {
        tenantId: null,
        actor: { type: 'operator', id: operatorId },
        action: 'gateway.ssh_key_added',
        subject: { type: 'operator_ssh_key', id },
        after: { name: input.name, fingerprint: key.fingerprint },
      });
      return { id, name: input.name, publicKey: key.line, fingerprint: key.fingerprint, createdAt: now };
    });
}

export async function removeOperatorKey(deps: OperatorKeysDeps, operatorId: string, id: string): Promise<void> {
  await gatewayDb(deps.db)
    .transaction()
    .execute(async (tx) => {
      const row = await tx.deleteFrom('operator_ssh_keys').where('id', '=', id).where('operator_id', '=', operatorId).returning(['fingerprint', 'name']).executeTakeFirst();
      if (!row) throw notFound('SSH key');
      await deps.audit.append(storeTxOf(tx), {
        tenantId: null,
        actor: { type: 'operator', id: operatorId },
        action: 'gateway.ssh_key_removed',
        subject: { type: 'operator_ssh_key', id },
        before: { name: row.name, fingerprint: row.fingerprint },
      });
    });
}

/**
 * Removes every key of the person, in the caller's transaction, one audit event per key. Called
 * wherever their sessions and API tokens are ended (offboarding, sign-in reset): a key planted
 * with a stolen session must not keep opening the gateway after that session is gone.
 */
export async function removeAllOperatorKeysIn(
  tx: Transaction<Database>,
  audit: AuditLog,
  operatorId: string,
  event: { tenantId: string | null; actor: AuditInput['actor']; reason: string },
): Promise<number> {
  const rows = await gatewayDb(tx).deleteFrom('operator_ssh_keys').where('operator_id', '=', operatorId).returning(['id', 'name', 'fingerprint']).execute();
  if (rows.length === 0) return 0;
  await audit.appendMany(
    tx,
    rows.map((r) => ({
      tenantId: event.tenantId,
      actor: event.actor,
      action: 'gateway.ssh_key_removed',
      subject: { type: 'operator_ssh_key', id: r.id },
      reason: event.reason,
      before: { operatorId, name: r.name, fingerprint: r.fingerprint },
    })),
  );
  return rows.length;
}
