/** "End now": take the access away before its time, with a reason for the audit log. */
import { useState, type FormEvent } from 'react';
import { call } from '../api';
import { Dialog } from '../components/Dialog';
import { DialogActions } from '../components/DialogActions';
import { FormError, TextField } from '../components/Field';
import { useWorkspace } from '../context';
import { placeError, type FieldErrors } from '../forms';
import type { Grant, JitAccount } from '../../../src/api/types.js';

export function EndDialog(props: { account: JitAccount; grant: Grant; onClose: () => void; onEnded: () => void }) {
  const ws = useWorkspace();
  const [reason, setReason] = useState('finished');
  const [errors, setErrors] = useState<FieldErrors<'reason'>>({});
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!reason.trim()) return setErrors({ reason: 'A reason is required.' });
    setBusy(true);
    try {
      await call('revokeGrant', { params: { tenant: ws.slug, grantId: props.grant.id }, body: { reason: reason.trim() } });
      props.onEnded();
    } catch (err) {
      setErrors(placeError(err, { 'body.reason': 'reason' }, [[/reason/i, 'reason']]));
      setBusy(false);
    }
  };

  return (
    <Dialog title={`End access of ${props.account.username} now`} onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        <p>The account is disabled on {props.account.targetName} and its open sessions are ended.</p>
        <FormError message={errors.form} />
        <TextField id="end-reason" label="Reason" value={reason} error={errors.reason} onChange={(e) => setReason(e.target.value)} />
        <DialogActions onCancel={props.onClose} busy={busy} busyLabel="Ending…" label="End now" tone="danger" />
      </form>
    </Dialog>
  );
}
