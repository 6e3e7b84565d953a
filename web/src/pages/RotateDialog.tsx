/**
 * "Rotate password": a new password for an enabled JIT account, shown once by the caller. Asked
 * first, because the current password stops working at once.
 */
import { useState, type FormEvent } from 'react';
import { call, messageOf } from '../api';
import { Dialog } from '../components/Dialog';
import { DialogActions } from '../components/DialogActions';
import { FormError } from '../components/Field';
import { useTotpStep } from '../components/TotpField';
import { useWorkspace } from '../context';
import type { JitAccount, RotatedPassword } from '../../../src/api/types.js';

export function RotateDialog(props: { account: JitAccount; onClose: () => void; onRotated: (r: RotatedPassword) => void }) {
  const ws = useWorkspace();
  const { account } = props;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const totp = useTotpStep('rotate-totp');

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onRotated(await call('rotateJitAccount', { params: { tenant: ws.slug, accountId: account.id }, body: totp.body() }));
    } catch (err) {
      if (!totp.handle(err)) setError(messageOf(err));
      setBusy(false);
    }
  };

  return (
    <Dialog title={`Rotate the password of ${account.username}`} onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        <p className="dialog-intro">
          {account.targetName} gets a new password for <span className="mono">{account.username}</span>, shown to you once.
        </p>
        <p className="warning">
          <strong>The current password stops working at once.</strong> Anything that signs in with it (a client, a script, a saved
          connection) needs the new one.
        </p>
        <FormError message={error} />
        {totp.field}
        <DialogActions onCancel={props.onClose} busy={busy} busyLabel="Rotating…" label="Rotate password" tone="danger" />
      </form>
    </Dialog>
  );
}
