/** Why a gateway session ended, in words (the dashboard and the CLI say it the same way). */
const END_REASON_TEXT: Record<string, string> = {
  client_closed: 'the person disconnected',
  host_closed: 'the host ended it (logout or exit)',
  grant_ended: 'the access ran out',
  grant_revoked: 'the access was revoked',
  killed: 'terminated by an administrator',
  signed_out: "the person's sign-ins were ended",
  gateway_stopped: 'the gateway stopped',
  gateway_died: 'the gateway died (recording up to its last flush)',
  error: 'an error',
};

/** A reason this version does not know is shown as its code. */
export const endReasonText = (reason: string | null | undefined): string | null => (reason ? (END_REASON_TEXT[reason] ?? reason) : null);
