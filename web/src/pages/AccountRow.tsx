/** One JIT account: status with countdown or error, target, groups, last reason, and its menu. */
import { GrantStatus, statusOfAccount, type ApprovalProgress } from '../components/Status';
import { Menu, type MenuItem } from '../components/Menu';
import type { Grant, JitAccount } from '../../../src/api/types.js';
import { bindsExistingUser } from '../../../src/core/target-kinds.js';
import { issuesCredential, secretNoun } from '../wizard/credential-kinds';

export function AccountRow(props: {
  account: JitAccount;
  grant: Grant | undefined;
  progress: ApprovalProgress | undefined;
  showOwner: boolean;
  isMine: boolean;
  canEndAny: boolean;
  /** A tenant admin: may delete anyone's account. */
  isAdmin: boolean;
  onEnable: () => void;
  onEnd: (grant: Grant) => void;
  onShowPassword: (grant: Grant) => void;
  onExtend: (grant: Grant) => void;
  onRotate: (grant: Grant) => void;
  onDelete: () => void;
  onConfirmBinding: () => void;
}) {
  const { account, grant } = props;
  const status = statusOfAccount(account, grant);
  const live = grant && ['active', 'activating', 'requested', 'approved'].includes(grant.state);
  const items: MenuItem[] = [];
  if (props.isMine) {
    items.push(
      live
        ? { label: 'Enable again', disabledReason: grant?.state === 'requested' ? 'waiting for approval' : 'already enabled' }
        : { label: 'Enable again', onSelect: props.onEnable },
    );
  }
  if (grant && live && (props.isMine || props.canEndAny)) items.push({ label: 'End now', onSelect: () => props.onEnd(grant) });
  // Certificates and tokens have no password to rotate and cannot be lengthened (request again).
  const credentialKind = issuesCredential(account.targetKind);
  if (grant && props.isMine && grant.state === 'active' && grant.credentialAvailable) {
    items.push({ label: `Show ${secretNoun(account.targetKind)}`, onSelect: () => props.onShowPassword(grant) });
  }
  if (grant && props.isMine && grant.state === 'active' && !credentialKind) items.push({ label: 'Extend', onSelect: () => props.onExtend(grant) });
  if (props.isMine && !credentialKind) {
    items.push(
      !grant || grant.state !== 'active'
        ? { label: 'Rotate password', disabledReason: 'only while the account is enabled' }
        : !account.canRotate
          ? { label: 'Rotate password', disabledReason: 'this target cannot rotate passwords' }
          : { label: 'Rotate password', onSelect: () => props.onRotate(grant) },
    );
  }
  // An existing user, named by its owner at their first request: an administrator says it is theirs.
  const unconfirmed = bindsExistingUser(account.targetKind) && account.confirmedAt === null;
  if (unconfirmed && props.isAdmin) {
    items.push(props.isMine ? { label: 'Confirm user', disabledReason: 'another administrator confirms your own' } : { label: 'Confirm user', onSelect: props.onConfirmBinding });
  }
  if (props.isMine || props.isAdmin) {
    // The server refuses while a grant is live; said here first so nobody has to try.
    items.push(
      live
        ? { label: 'Delete', disabledReason: 'end the access first' }
        : grant?.state === 'revoking'
          ? { label: 'Delete', disabledReason: 'the access is being ended' }
          : { label: 'Delete', onSelect: props.onDelete },
    );
  }

  return (
    <tr data-account={account.username}>
      <th scope="row" className="mono">
        {account.username}
        {unconfirmed ? (
          <span className="tag" title="The gateway logs in as this user only after an administrator confirms it is this person's">
            {' '}
            unconfirmed
          </span>
        ) : null}
      </th>
      {props.showOwner ? <td>{account.operatorEmail}</td> : null}
      <td className="nowrap">{account.targetName}</td>
      <td data-testid="account-status">
        <GrantStatus status={status} grant={grant} progress={props.progress} />
      </td>
      <td>
        {grant?.entitlements.length ? (
          <ul className="tags">
            {grant.entitlements.map((e) => (
              <li key={e} className="tag mono">
                {e}
              </li>
            ))}
          </ul>
        ) : (
          '—'
        )}
      </td>
      <td className="reason">{grant?.reason ?? '—'}</td>
      <td className="actions">
        <Menu label={`Actions for ${account.username}`} items={items} />
      </td>
    </tr>
  );
}
