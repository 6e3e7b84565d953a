/**
 * The invitation email: its one-time link is a credential (whoever holds it chooses the
 * account's password), so it is kept like a host password (sealed-secret.ts): the stored body
 * says `<link>`, the payload holds the link encrypted and bound to the row, and the link is
 * rendered into the mail only at sending time, then erased. An invitation used, replaced or
 * expired before its email leaves is not sent at all.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import { notifyDb } from './db.js';
import type { ClaimedNotification } from './outbox.js';
import { sealedEmail, sealSecret, secretPlaceholder, type SealedEmailDeps } from './sealed-secret.js';

export const INVITATION_EVENT = 'invitation';
/** Where the link goes in the body lines given to queueInvitationEmail. */
export const INVITATION_LINK = secretPlaceholder('link');

export interface InvitationEmail {
  tenantId: string;
  invitationId: string;
  to: string;
  subject: string;
  /** The text, with INVITATION_LINK where the link goes. */
  lines: string[];
  link: string;
  now: Date;
}

/** Queues the email in the caller's transaction. */
export async function queueInvitationEmail(tx: Transaction<Database>, secrets: SecretBox, m: InvitationEmail): Promise<void> {
  const id = randomUUID();
  await notifyDb(tx)
    .insertInto('notifications')
    .values({
      id,
      tenant_id: m.tenantId,
      channel: 'email',
      recipient: m.to,
      event: INVITATION_EVENT,
      subject: m.subject,
      body: m.lines.join('\n'),
      payload: JSON.stringify({ invitationId: m.invitationId, ...sealSecret(secrets, id, 'link', m.link) }),
      status: 'pending',
      next_attempt_at: m.now,
      created_at: m.now,
    })
    .execute();
}

/** The dispatcher's handling of one claimed invitation email. */
export async function deliverInvitationEmail(d: SealedEmailDeps, n: ClaimedNotification): Promise<void> {
  const p = (n.payload ?? {}) as { invitationId?: unknown };
  const invitationId = typeof p.invitationId === 'string' ? p.invitationId : '';
  const { giveUp, send } = sealedEmail(d, n, { slot: 'link', erased: { invitationId }, what: 'invitation email' });
  const inv = invitationId ? await d.db.selectFrom('invitations').select(['used_at', 'expires_at']).where('id', '=', invitationId).executeTakeFirst() : undefined;
  if (!inv || inv.used_at || inv.expires_at <= d.clock.now()) return giveUp('the invitation was used, replaced or expired before the email was sent');
  return send();
}
