/** "Just-in-time accounts": mine (or everyone's), their live status, and the three-dot menu. */
import { useState } from 'react';
import { call, messageOf } from '../api';
import { FormError } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { useWorkspace } from '../context';
import { Link } from '../router';
import type { Credential, Grant, JitAccount } from '../../../src/api/types.js';
import { CredentialDialog } from '../wizard/CredentialDialog';
import { AccountRow } from './AccountRow';
import { DeleteDialog } from './DeleteDialog';
import { EnableDialog } from './EnableDialog';
import { EndDialog } from './EndDialog';
import { ExtendDialog } from './ExtendDialog';
import { RotateDialog } from './RotateDialog';
import { useApprovalProgress } from '../hooks/useApprovalProgress';
import { useAccounts } from './useAccounts';

type Open =
  | { kind: 'enable'; account: JitAccount; grant: Grant | undefined }
  | { kind: 'end'; account: JitAccount; grant: Grant }
  | { kind: 'password'; grant: Grant; targetKind: string | undefined; revealed?: Credential; title?: string }
  | { kind: 'extend'; account: JitAccount; grant: Grant }
  | { kind: 'rotate'; account: JitAccount; grant: Grant }
  | { kind: 'delete'; account: JitAccount }
  | null;

export function JitAccountsPage() {
  const ws = useWorkspace();
  const everyoneAllowed = ws.can('grants.read_all');
  const [mine, setMine] = useState(true);
  const { accounts, latest, error, reload } = useAccounts(ws.slug, mine || !everyoneAllowed);
  const [open, setOpen] = useState<Open>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const showOwner = !mine && everyoneAllowed;
  const progress = useApprovalProgress(Object.values(latest));
  const isAdmin = ws.tenant.roles.some((r) => r === 'owner' || r === 'admin');
  const confirmBinding = async (a: JitAccount) => {
    try {
      await call('confirmBinding', { params: { tenant: ws.slug, accountId: a.id } });
      setNotice(`Confirmed: ${a.username} on ${a.targetName} is ${a.operatorEmail}'s own user; the gateway now logs in as it during their grants.`);
      reload();
    } catch (err) {
      setNotice(messageOf(err));
    }
  };

  return (
    <div>
      <PageHeader title="Just-in-time accounts" intro="Personal privileged accounts, enabled only for the time you asked for.">
        {ws.can('requests.create') ? (
          <Link to={`/t/${ws.slug}/jit-accounts/activate`} className="button primary">
            Activate JIT account
          </Link>
        ) : null}
      </PageHeader>
      {everyoneAllowed ? (
        <div className="segmented" role="group" aria-label="Whose accounts">
          <button type="button" aria-pressed={mine} onClick={() => setMine(true)}>
            Mine
          </button>
          <button type="button" aria-pressed={!mine} onClick={() => setMine(false)}>
            Everyone’s
          </button>
        </div>
      ) : null}
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <FormError message={error} />
      {accounts === null ? (
        error ? null : <p className="loading">Loading…</p>
      ) : accounts.length === 0 ? (
        <p className="empty">No JIT accounts yet. Activate one to get temporary access to a target.</p>
      ) : (
        <table className="table" aria-label="JIT accounts">
          <thead>
            <tr>
              <th scope="col">Account</th>
              {showOwner ? <th scope="col">Person</th> : null}
              <th scope="col">Target</th>
              <th scope="col">Status</th>
              <th scope="col">Groups / roles</th>
              <th scope="col">Last reason</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {accounts.map((a) => (
              <AccountRow
                key={a.id}
                account={a}
                grant={latest[a.id]}
                progress={latest[a.id] ? progress[latest[a.id]!.id] : undefined}
                showOwner={showOwner}
                isMine={a.operatorId === ws.me.id}
                canEndAny={ws.can('grants.revoke_any')}
                isAdmin={isAdmin}
                onEnable={() => setOpen({ kind: 'enable', account: a, grant: latest[a.id] })}
                onEnd={(grant) => setOpen({ kind: 'end', account: a, grant })}
                onShowPassword={(grant) => setOpen({ kind: 'password', grant, targetKind: a.targetKind })}
                onExtend={(grant) => setOpen({ kind: 'extend', account: a, grant })}
                onRotate={(grant) => setOpen({ kind: 'rotate', account: a, grant })}
                onDelete={() => setOpen({ kind: 'delete', account: a })}
                onConfirmBinding={() => void confirmBinding(a)}
              />
            ))}
          </tbody>
        </table>
      )}
      {open?.kind === 'enable' ? (
        <EnableDialog
          account={open.account}
          lastGrant={open.grant}
          onClose={() => setOpen(null)}
          onEnabled={(grant) => {
            reload();
            setNotice(grant.state === 'requested' ? `${open.account.username}: sent for approval. The password can be revealed here once it is active.` : null);
            setOpen(grant.state === 'active' || grant.state === 'activating' ? { kind: 'password', grant, targetKind: open.account.targetKind } : null);
          }}
        />
      ) : null}
      {open?.kind === 'end' ? (
        <EndDialog
          account={open.account}
          grant={open.grant}
          onClose={() => setOpen(null)}
          onEnded={() => {
            reload();
            setOpen(null);
          }}
        />
      ) : null}
      {open?.kind === 'extend' ? (
        <ExtendDialog
          account={open.account}
          grant={open.grant}
          onClose={() => {
            reload();
            setOpen(null);
          }}
        />
      ) : null}
      {open?.kind === 'rotate' ? (
        <RotateDialog
          account={open.account}
          onClose={() => setOpen(null)}
          onRotated={(r) =>
            setOpen({
              kind: 'password',
              grant: open.grant,
              targetKind: open.account.targetKind,
              title: `New password for ${r.username}`,
              revealed: { username: r.username, password: r.password, expiresAt: open.grant.expiresAt, connect: r.connect },
            })
          }
        />
      ) : null}
      {open?.kind === 'delete' ? (
        <DeleteDialog
          account={open.account}
          onClose={() => setOpen(null)}
          onDeleted={() => {
            reload();
            setNotice(`${open.account.username} was deleted from ${open.account.targetName}.`);
            setOpen(null);
          }}
        />
      ) : null}
      {open?.kind === 'password' ? (
        <CredentialDialog
          tenant={ws.slug}
          grant={open.grant}
          kind={open.targetKind}
          revealed={open.revealed}
          title={open.title}
          onClose={() => {
            reload();
            setOpen(null);
          }}
        />
      ) : null}
    </div>
  );
}
