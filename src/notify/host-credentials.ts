/**
 * The credential email of a `linux-agent` grant with `credentialDelivery: server-email`: user
 * name, password, host and end time, sent by the server through the tenant's SMTP settings.
 *
 * The outbox row is written in the grant's own transaction, but sent only once the agent has
 * reported the account created (so the password works when the email arrives); a grant that ends
 * or is refused first gives it up. The password is never stored in clear: the row's body holds a
 * placeholder, its payload the password encrypted with the SecretBox (bound to the row), and that
 * ciphertext is erased as soon as the email is sent or given up. Errors are scrubbed of it before
 * they are logged or stored; nothing about it goes into the audit log.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { credentialEmailText, type CredentialMessage } from '../agent-wire/credential-message.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import { agentsDb } from '../store/schema-agents.js';
import { notifyDb } from './db.js';
import { waitUncounted, type ClaimedNotification } from './outbox.js';
import { hasSealedSecret, sealedEmail, sealSecret, secretPlaceholder, type SealedEmailDeps } from './sealed-secret.js';

export const HOST_CREDENTIALS_EVENT = 'host_credentials';
/** In the stored body where the password goes; filled in only in memory, at sending time. */
const PASSWORD_SLOT = secretPlaceholder('password');

interface Payload {
  grantId: string;
  passwordEnc?: string;
}

type Db = Kysely<Database> | Transaction<Database>;

const pendingFor = (db: Db, grantId: string) =>
  notifyDb(db)
    .updateTable('notifications')
    .where('event', '=', HOST_CREDENTIALS_EVENT)
    .where('status', '=', 'pending')
    .where(sql<string>`payload->>'grantId'`, '=', grantId);

/** Why the server cannot email credentials for `tenantId`, or null. Checked before a grant is written. */
export async function hostCredentialsRecipientProblem(db: Kysely<Database>, tenantId: string | undefined): Promise<string | null> {
  if (!tenantId) return 'server-email delivery needs the grant\'s tenant';
  const s = await notifyDb(db).selectFrom('tenant_notification_settings').select(['smtp_host', 'from_address']).where('tenant_id', '=', tenantId).executeTakeFirst();
  return s?.smtp_host && s.from_address ? null : 'server-email delivery needs this tenant\'s SMTP settings (settings → notifications); none are set';
}

/** The agent's credential message (the account is always deleted at the end), for one grant. */
export interface HostCredentials extends Omit<CredentialMessage, 'endAction'> {
  tenantId: string;
  grantId: string;
  now: Date;
}

/** Queues the email in the caller's transaction; the dispatcher holds it until the account exists. */
export async function queueHostCredentials(tx: Db, secrets: SecretBox, c: HostCredentials): Promise<void> {
  const id = randomUUID();
  const body = credentialEmailText({ to: c.to, username: c.username, password: PASSWORD_SLOT, hostName: c.hostName, startAt: c.startAt, endAt: c.endAt, endAction: 'delete' });
  const payload: Payload = { grantId: c.grantId, ...sealSecret(secrets, id, 'password', c.password) };
  await notifyDb(tx)
    .insertInto('notifications')
    .values({
      id,
      tenant_id: c.tenantId,
      channel: 'email',
      recipient: c.to,
      event: HOST_CREDENTIALS_EVENT,
      subject: `Your temporary account on ${c.hostName}`,
      body,
      payload: JSON.stringify(payload),
      status: 'pending',
      next_attempt_at: c.now,
      created_at: c.now,
    })
    .execute();
}

/** A retried activation chose a new password before the agent set the old one: the email carries the new one. */
export async function replaceHostCredentialsPassword(tx: Db, secrets: SecretBox, grantId: string, password: string): Promise<void> {
  const rows = await notifyDb(tx)
    .selectFrom('notifications')
    .select('id')
    .where('event', '=', HOST_CREDENTIALS_EVENT)
    .where('status', '=', 'pending')
    .where(sql<string>`payload->>'grantId'`, '=', grantId)
    .execute();
  for (const r of rows) {
    const payload: Payload = { grantId, ...sealSecret(secrets, r.id, 'password', password) };
    await notifyDb(tx).updateTable('notifications').set({ payload: JSON.stringify(payload) }).where('id', '=', r.id).execute();
  }
}

/** Gives up a credential email not sent yet (the grant ended or was refused): its password is erased. */
export async function dropHostCredentials(tx: Db, grantId: string, why: string): Promise<void> {
  await pendingFor(tx, grantId)
    .set({ status: 'failed', last_error: why, payload: JSON.stringify({ grantId }), locked_by: null, locked_until: null })
    .execute();
}

export type HostCredentialsDeps = SealedEmailDeps;

/** How long to wait before looking again for the account: soon at first, every 30 s for an agent that is away. */
const notReadyDelay = (ageMs: number) => Math.min(30_000, Math.max(1_000, ageMs / 10));

/** The dispatcher's handling of one claimed credential email. */
export async function deliverHostCredentials(d: HostCredentialsDeps, n: ClaimedNotification): Promise<void> {
  const payload = (n.payload ?? {}) as Partial<Payload>;
  const grantId = typeof payload.grantId === 'string' ? payload.grantId : '';
  const { giveUp, send } = sealedEmail(d, n, {
    slot: 'password',
    erased: { grantId },
    what: 'credential email',
    onGiveUp: async (error) => {
      if (!grantId) return;
      await d.db.updateTable('grants').set({ last_error: `the credential email to ${n.recipient} was not sent: ${error}`.slice(0, 2000) }).where('id', '=', grantId).execute();
    },
  });
  if (!hasSealedSecret(payload, 'password') || !grantId) return giveUp('the password is no longer stored');

  const row = await agentsDb(d.db).selectFrom('agent_grants').select(['agent_status', 'removed_at', 'created_at']).where('grant_id', '=', grantId).executeTakeFirst();
  if (!row || row.removed_at || row.agent_status === 'ended' || row.agent_status === 'rejected') {
    return giveUp('the grant ended or was refused by the agent before the account was ready');
  }
  const now = d.clock.now();
  if (row.agent_status === 'sent' || row.agent_status === 'accepted') {
    const age = now.getTime() - row.created_at.getTime();
    return waitUncounted(d.db, n, new Date(now.getTime() + notReadyDelay(age)), 'waiting for the agent to create the account');
  }
  return send();
}
