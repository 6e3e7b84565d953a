/** Status badges, approval progress, and the live countdown to a grant's end. */
import { formatDate, formatRemaining } from '../format';
import { useLiveStatus, useServerNow } from '../live';
import type { Grant, GrantState, JitAccount } from '../../../src/api/types.js';

export type ShownStatus =
  | 'active'
  | 'activating'
  | 'waiting'
  | 'scheduled'
  | 'disabling'
  | 'revoke_failed'
  | 'failed'
  | 'denied'
  | 'expired'
  | 'revoked'
  | 'cancelled'
  | 'disabled';

const labels: Record<ShownStatus, string> = {
  active: 'Active',
  activating: 'Activating',
  waiting: 'Waiting for approval',
  scheduled: 'Approved, starts later',
  disabling: 'Disabling',
  revoke_failed: 'Revoke failed',
  failed: 'Refused by target',
  denied: 'Denied',
  expired: 'Expired',
  revoked: 'Revoked',
  cancelled: 'Cancelled',
  /** An account with no grant to tell why. */
  disabled: 'Disabled',
};

/** Where a request stands among its approval levels; `level` is unknown to some viewers. */
export interface ApprovalProgress {
  level: number | null;
  levels: number;
}

/** `endReason` tells an access that ran out (revoked with reason "expired") from one ended early. */
export function statusOfGrant(state: GrantState, endReason?: string | null): ShownStatus {
  switch (state) {
    case 'active':
      return 'active';
    case 'activating':
      return 'activating';
    case 'requested':
      return 'waiting';
    case 'approved':
      return 'scheduled';
    case 'revoking':
      return 'disabling';
    case 'revoke_failed':
      return 'revoke_failed';
    case 'failed':
      return 'failed';
    case 'denied':
      return 'denied';
    case 'expired':
      return 'expired';
    case 'revoked':
      return endReason === 'expired' ? 'expired' : 'revoked';
    case 'cancelled':
      return 'cancelled';
  }
}

/** The account's status as its newest grant tells it (the account row alone when it has none). */
export function statusOfAccount(account: JitAccount, grant: Grant | undefined): ShownStatus {
  if (grant) return statusOfGrant(grant.state, grant.endReason);
  return account.status === 'enabled' ? 'active' : account.status === 'provisioning' ? 'activating' : 'disabled';
}

export function Badge({ status }: { status: ShownStatus }) {
  return <span className={`badge badge-${status}`}>{labels[status]}</span>;
}

export function Countdown({ expiresAt }: { expiresAt: string }) {
  const now = useServerNow();
  // Without the server, nothing confirms the access is still there (it may have been ended):
  // the countdown becomes an estimate, said as such.
  const certain = useLiveStatus() === 'live';
  const left = Date.parse(expiresAt) - now;
  return (
    <span
      className={certain ? 'countdown' : 'countdown uncertain'}
      title={certain ? `Ends ${new Date(expiresAt).toLocaleString()}` : 'The server cannot be reached: nothing confirms the access is still there or ends then.'}
    >
      {left > 0 ? (certain ? `ends in ${formatRemaining(left)}` : `should end in ${formatRemaining(left)} (unconfirmed)`) : certain ? 'ending…' : 'should have ended (not confirmed)'}
    </span>
  );
}

export function progressText(p: ApprovalProgress | undefined): string | null {
  if (!p || p.levels === 0) return null;
  return p.level ? `level ${p.level} of ${p.levels}` : `${p.levels} approval level${p.levels === 1 ? '' : 's'}`;
}

/** Badge plus what matters for that status: countdown, approval level, denial reason, or error. */
export function GrantStatus({ status, grant, progress }: { status: ShownStatus; grant: Grant | undefined; progress?: ApprovalProgress | undefined }) {
  const level = status === 'waiting' ? progressText(progress) : null;
  return (
    <div className="status">
      <Badge status={status} />
      {level ? <span className="status-note">({level})</span> : null}
      {status === 'active' && grant?.expiresAt ? <Countdown expiresAt={grant.expiresAt} /> : null}
      {status === 'scheduled' && grant?.requestedStartAt ? <span className="status-note">starts {formatDate(grant.requestedStartAt)}</span> : null}
      {status === 'denied' && grant?.endReason ? <span className="status-note">“{grant.endReason}”</span> : null}
      {status === 'revoke_failed' && grant?.lastError ? <span className="status-error">{grant.lastError}</span> : null}
      {status === 'failed' && grant?.endReason ? <span className="status-error">{grant.endReason}</span> : null}
    </div>
  );
}
