/** "Terminate": ends a live session; the gateway closes it within a second. */
import { useState, type FormEvent } from 'react';
import { call } from '../../api';
import { Dialog } from '../../components/Dialog';
import { DialogActions } from '../../components/DialogActions';
import { FormError } from '../../components/Field';
import type { GatewaySession } from '../../../../src/api/types.js';

export function TerminateDialog(props: { tenant: string; session: GatewaySession; onClose: () => void; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const s = props.session;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await call('killGatewaySession', { params: { tenant: props.tenant, id: s.id } });
      props.onDone();
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };

  return (
    <Dialog title="Terminate this session?" onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        <p>
          {s.operatorEmail} is disconnected from <span className="mono">{s.account}@{s.targetName}</span> at once and sees why. Their access itself stays;
          to take it away, end the grant.
        </p>
        <FormError message={error} />
        <DialogActions onCancel={props.onClose} busy={busy} busyLabel="Terminating…" label="Terminate session" tone="danger" />
      </form>
    </Dialog>
  );
}
