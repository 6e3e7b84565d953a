/**
 * Settings → Members: who is in the tenant, invitations (nobody sets anyone's password: the
 * invitee chooses their own; pending ones can be withdrawn), and offboarding: disable (sessions and tokens end at once, requests
 * cancelled, grants revoked), enable (sign-in only), or just end someone's sessions.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { AddedMember, Member as MemberRow, Role } from '../../../../src/api/types.js';
import { roles as ROLES } from '../../../../src/core/roles.js';
import { allPages, call, messageOf } from '../../api';
import { FormError, TextField } from '../../components/Field';
import { SecretField } from '../../components/SecretField';
import { useWorkspace } from '../../context';
import { ChangeRolesDialog, RemoveMemberDialog, RoleChecks } from './MemberDialogs';
import { PendingInvitations } from './PendingInvitations';

type Invited = Extract<AddedMember, { invitation: unknown }>;

export function MembersSettings() {
  const ws = useWorkspace();
  const [members, setMembers] = useState<MemberRow[]>([]);
  const [email, setEmail] = useState('');
  const [roles, setRoles] = useState<Role[]>(['requester']);
  const [invited, setInvited] = useState<Invited | null>(null);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState<{ kind: 'roles' | 'remove'; member: MemberRow } | null>(null);
  // Bumped after every change, so the pending invitations are read again with the members.
  const [version, setVersion] = useState(0);

  const load = useCallback(() => {
    allPages('listMembers', { params: { tenant: ws.slug } }, 1000).then(setMembers, (err: unknown) => setError(messageOf(err)));
    setVersion((v) => v + 1);
  }, [ws.slug]);
  useEffect(load, [load]);

  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      await fn();
      load();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const invite = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const r = await call('addMember', { params: { tenant: ws.slug }, body: { email: email.trim(), roles } });
      if ('invitation' in r) {
        setInvited(r);
        setNotice(r.delivery === 'email' ? `Invitation e-mailed to ${r.invitation.email}.` : null);
      } else {
        setInvited(null);
        setNotice(`${r.operator.email} now has the role(s) ${r.roles.join(', ')}.${r.disabledHere ? ' They are still disabled here: enable them to let them back in.' : ''}`);
      }
      setEmail('');
    });
  };

  const needReason = () => {
    if (reason.trim().length < 3) {
      setError('Say why first (the reason field above the list; it is audited).');
      return false;
    }
    return true;
  };
  const disable = (m: MemberRow) =>
    needReason() &&
    void run(async () => {
      const r = await call('disableMember', { params: { tenant: ws.slug, operatorId: m.operator.id }, body: { reason: reason.trim() } });
      setNotice(
        `${m.operator.email} is disabled here: ${r.sessionsAndTokensEnded} session(s) and token(s) ended, ${r.requestsCancelled} request(s) cancelled, ${r.grantsRevoked} grant(s) being revoked, ${r.approvalsRerouted} approval(s) re-routed, ${r.approvalsFlagged} flagged.`,
      );
    });
  const enable = (m: MemberRow) =>
    void run(async () => {
      await call('enableMember', { params: { tenant: ws.slug, operatorId: m.operator.id } });
      setNotice(`${m.operator.email} can sign in here again. Their grants stay ended.`);
    });
  const endSessions = (m: MemberRow) =>
    needReason() &&
    void run(async () => {
      const r = await call('endMemberSessions', { params: { tenant: ws.slug, operatorId: m.operator.id }, body: { reason: reason.trim() } });
      setNotice(`${r.sessionsAndTokensEnded} session(s) and API token(s) of ${m.operator.email} ended.`);
    });

  return (
    <>
      <section className="card narrow" aria-labelledby="invite-title">
        <h2 id="invite-title">Invite someone</h2>
        <p className="hint">They choose their own password (or already have an account and accept while signed in). The link works once, for 72 hours.</p>
        <form onSubmit={invite} noValidate aria-label="Invite someone">
          <TextField id="invite-email" label="Email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
          <RoleChecks idPrefix="invite-role" roles={roles} onChange={setRoles} />
          <button type="submit" className="primary" disabled={busy}>
            Invite
          </button>
        </form>
        {invited?.link ? (
          <div role="status">
            <p>No email is set up for this tenant: pass this link on to {invited.invitation.email} yourself. It is shown only now.</p>
            <SecretField id="invitation-link" label="Invitation link" value={invited.link} />
          </div>
        ) : null}
      </section>
      <PendingInvitations
        tenant={ws.slug}
        refresh={version}
        onNotice={(message) => {
          setError(null);
          setNotice(message);
        }}
        onError={setError}
      />
      <section className="card" aria-labelledby="members-title">
        <h2 id="members-title">Members</h2>
        <FormError message={error} />
        {notice ? (
          <p className="notice" role="status">
            {notice}
          </p>
        ) : null}
        <TextField id="offboard-reason" label="Reason for disabling or ending sessions" hint="Recorded in the audit log." value={reason} onChange={(e) => setReason(e.target.value)} />
        <table className="table" aria-label="Members">
          <thead>
            <tr>
              <th>Email</th>
              <th>Name</th>
              <th>Roles</th>
              <th>Status</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {members.map((m) => {
              const self = m.operator.id === ws.me.id;
              const off = m.operator.disabled || m.disabledHere;
              return (
                <tr key={m.operator.id} aria-label={`Member ${m.operator.email}`}>
                  <td>{m.operator.email}</td>
                  <td>{m.operator.displayName}</td>
                  <td>{m.roles.join(', ')}</td>
                  <td>{m.operator.disabled ? 'disabled everywhere' : m.disabledHere ? 'disabled here' : 'active'}</td>
                  <td className="member-actions">
                    {self ? null : (
                      <>
                        <button type="button" disabled={busy} onClick={() => setOpen({ kind: 'roles', member: m })}>
                          Change roles
                        </button>{' '}
                        <button type="button" disabled={busy} onClick={() => setOpen({ kind: 'remove', member: m })}>
                          Remove
                        </button>{' '}
                      </>
                    )}
                    {self ? null : off ? (
                      <button type="button" disabled={busy || m.operator.disabled} onClick={() => enable(m)}>
                        Enable
                      </button>
                    ) : (
                      <>
                        <button type="button" className="danger" disabled={busy} onClick={() => disable(m)}>
                          Disable
                        </button>{' '}
                        <button type="button" disabled={busy} onClick={() => endSessions(m)}>
                          End sessions
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
      {open ? (
        (() => {
          const Chosen = open.kind === 'roles' ? ChangeRolesDialog : RemoveMemberDialog;
          return (
            <Chosen
              tenant={ws.slug}
              member={open.member}
              onClose={() => setOpen(null)}
              onDone={(message) => {
                setOpen(null);
                setError(null);
                setNotice(message);
                load();
              }}
            />
          );
        })()
      ) : null}
    </>
  );
}
