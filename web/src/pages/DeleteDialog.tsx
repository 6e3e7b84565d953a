/**
 * "Delete": removes a JIT account from its target and from the list, after asking. The server
 * refuses while a grant of the account is live; its message is shown here.
 */
import { useState, type FormEvent } from 'react';
import { call, messageOf } from '../api';
import { Dialog } from '../components/Dialog';
import { DialogActions } from '../components/DialogActions';
import { FormError } from '../components/Field';
import { useWorkspace } from '../context';
import type { JitAccount } from '../../../src/api/types.js';

export function DeleteDialog(props: { account: JitAccount; onClose: () => void; onDeleted: () => void }) {
  const ws = useWorkspace();
  const { account } = props;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await call('deleteJitAccount', { params: { tenant: ws.slug, accountId: account.id } });
      props.onDeleted();
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };

  return (
    <Dialog title={`Delete ${account.username} on ${account.targetName}`} onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        <p className="dialog-intro">
          The account <strong className="mono">{account.username}</strong> is removed from <strong>{account.targetName}</strong> and from
          this list{account.operatorId === ws.me.id ? '' : ` (it belongs to ${account.operatorEmail})`}. Its past grants stay in the audit
          log. A fresh account can be activated later.
        </p>
        <FormError message={error} />
        <DialogActions onCancel={props.onClose} busy={busy} busyLabel="Deleting…" label="Delete account" tone="danger" />
      </form>
    </Dialog>
  );
}
