/** Status badges, approval progress, and the live countdown to a grant's end. */
import { formatDate, formatRemaining } from '../format';
import { useServerNow } from '../live';
import type { Grant, GrantState, JitAccount } from '../../../src/api/types.js';

export type ShownStatus = 'active' | 'activating' | 'waiting' | 'scheduled' | 'disabling' | 'revoke_failed' | 'failed' | 'denied' | 'disabled';

const labels: Record<ShownStatus, string> = {
  active: 'Active',
  activating: 'Activating',
  waiting: 'Waiting for approval',
  scheduled: 'Approved, starts later',
  disabling: 'Disabling',
  revoke_failed: 'Revoke failed',
  failed: 'Refused by target',
  denied: 'Denied',
  disabled: 'Disabled',
};

/** Where a request stands among its approval levels; `level` is unknown to some viewers. */
export interface ApprovalProgress {
  level: number | null;
  levels: number;
}

export function statusOfGrant(state: GrantState): ShownStatus {
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
    default:
      return 'disabled';
  }
}

/** The account's status as its newest grant tells it (the account row alone when it has none). */
export function statusOfAccount(account: JitAccount, grant: Grant | undefined): ShownStatus {
  if (grant) return statusOfGrant(grant.state);
  return account.status === 'enabled' ? 'active' : account.status === 'provisioning' ? 'activating' : 'disabled';
}

export function Badge({ status }: { status: ShownStatus }) {
  return <span className={`badge badge-${status}`}>{labels[status]}</span>;
}

export function Countdown({ expiresAt }: { expiresAt: string }) {
  const now = useServerNow();
  const left = Date.parse(expiresAt) - now;
  return (
    <span className="countdown" title={`Ends ${new Date(expiresAt).toLocaleString()}`}>
      {left > 0 ? `ends in ${formatRemaining(left)}` : 'ending…'}
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
