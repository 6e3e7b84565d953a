/** Status badges and the live countdown to a grant's end. */
import { formatRemaining } from '../format';
import { useServerNow } from '../live';
import type { Grant, GrantState, JitAccount } from '../types';

export type ShownStatus = 'active' | 'activating' | 'pending' | 'disabling' | 'revoke_failed' | 'disabled';

const labels: Record<ShownStatus, string> = {
  active: 'Active',
  activating: 'Activating',
  pending: 'Pending',
  disabling: 'Disabling',
  revoke_failed: 'Revoke failed',
  disabled: 'Disabled',
};

export function statusOfGrant(state: GrantState): ShownStatus {
  switch (state) {
    case 'active':
      return 'active';
    case 'activating':
      return 'activating';
    case 'requested':
    case 'approved':
      return 'pending';
    case 'revoking':
      return 'disabling';
    case 'revoke_failed':
      return 'revoke_failed';
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

/** Badge plus what matters for that status: the countdown, or the error of a failed revocation. */
export function GrantStatus({ status, grant }: { status: ShownStatus; grant: Grant | undefined }) {
  return (
    <div className="status">
      <Badge status={status} />
      {status === 'active' && grant?.expiresAt ? <Countdown expiresAt={grant.expiresAt} /> : null}
      {status === 'revoke_failed' && grant?.lastError ? <span className="status-error">{grant.lastError}</span> : null}
    </div>
  );
}
