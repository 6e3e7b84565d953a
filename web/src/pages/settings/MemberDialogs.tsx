/** Change a member's roles, or remove them from the tenant: each a small dialog saying what happens. */
import { useState, type FormEvent } from 'react';
import type { Member, Role } from '../../../../src/api/types.js';
import { roles as ROLES } from '../../../../src/core/roles.js';
import { call, messageOf } from '../../api';
import { Dialog } from '../../components/Dialog';
import { DialogActions } from '../../components/DialogActions';
import { FormError } from '../../components/Field';

const roleHelp: Record<Role, string> = {
  owner: 'everything, including other owners',
  admin: 'targets, policies, members, audit',
  approver: 'decides requests, sees all grants',
  requester: 'asks for access',
  auditor: 'reads grants and the audit log',
};

/** The member a dialog acts on (the contract's member, as the list shows it). */
export type MemberRef = Pick<Member, 'operator' | 'roles'>;

export function RoleChecks(props: { idPrefix: string; roles: Role[]; onChange: (roles: Role[]) => void }) {
  return (
    <fieldset className="field">
      <legend>Roles</legend>
      {ROLES.map((r) => (
        <label key={r} className="check">
          <input
            type="checkbox"
            id={`${props.idPrefix}-${r}`}
            checked={props.roles.includes(r)}
            onChange={(e) => props.onChange(e.target.checked ? [...props.roles, r] : props.roles.filter((x) => x !== r))}
          />{' '}
          {r} <span className="hint">— {roleHelp[r]}</span>
        </label>
      ))}
    </fieldset>
  );
}

export function ChangeRolesDialog(props: { tenant: string; member: MemberRef; onClose: () => void; onDone: (message: string) => void }) {
  const { member } = props;
  const [roles, setRoles] = useState<Role[]>(member.roles);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (roles.length === 0) return setError('Choose at least one role; to take every role away, remove the member instead.');
    setBusy(true);
    try {
      const r = await call('addMember', { params: { tenant: props.tenant }, body: { email: member.operator.email, roles } });
      const now = 'roles' in r ? r.roles : roles;
      const disabled = 'disabledHere' in r && r.disabledHere ? ' They are still disabled here: enable them to let them back in.' : '';
      props.onDone(`${member.operator.email} now has the role${now.length === 1 ? '' : 's'} ${now.join(', ')}.${disabled}`);
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Roles of ${member.operator.email}`} onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        <FormError message={error} />
        <RoleChecks idPrefix="change-role" roles={roles} onChange={setRoles} />
        <DialogActions onCancel={props.onClose} busy={busy} busyLabel="Saving…" label="Save roles" />
      </form>
    </Dialog>
  );
}

export function RemoveMemberDialog(props: { tenant: string; member: MemberRef; onClose: () => void; onDone: (message: string) => void }) {
  const { member } = props;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await call('removeMember', { params: { tenant: props.tenant, operatorId: member.operator.id } });
      props.onDone(`${member.operator.email} is no longer a member.`);
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Remove ${member.operator.email}`} onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        <p className="dialog-intro">
          They lose access to this tenant at once: their pending requests are cancelled and their live grants revoked on the targets. Their
          account stays (other tenants, the audit trail). To keep them listed here while ending every session and token too, use Disable.
        </p>
        <FormError message={error} />
        <DialogActions onCancel={props.onClose} busy={busy} busyLabel="Removing…" label="Remove member" tone="danger" />
      </form>
    </Dialog>
  );
}
