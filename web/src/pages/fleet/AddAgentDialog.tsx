/**
 * "Add agent": a one-time enrolment token (a name for the fleet, how long it stays valid), then the
 * token and the exact commands to run on the host, shown this once: only the token's hash is
 * stored, and closing the dialog forgets it (docs/agent.md, "Enrolment").
 */
import { useRef, useState, type FormEvent } from 'react';
import { call } from '../../api';
import { Dialog } from '../../components/Dialog';
import { DialogActions, DialogDone } from '../../components/DialogActions';
import { FormError, SelectField, TextField } from '../../components/Field';
import { formatDate } from '../../format';
import { focusFirstInvalid, placeError, type FieldErrors } from '../../forms';
import type { EnrolmentToken } from '../../../../src/api/types.js';
import { CopyField } from './CopyField';

const STATE_DIR = '/var/lib/timebox-agent';
const validity = [
  { minutes: 15, label: '15 minutes' },
  { minutes: 60, label: '1 hour' },
  { minutes: 8 * 60, label: '8 hours' },
  { minutes: 24 * 60, label: '1 day' },
  { minutes: 7 * 24 * 60, label: '7 days (the longest)' },
];

type Field = 'name' | 'expiry';

/** The agent refuses plain http:// except to a loopback address (its desired states can carry passwords). */
const loopback = (host: string) => host === 'localhost' || host === '[::1]' || /^127\./.test(host);

export function enrolCommands(token: string, origin: string) {
  return {
    enrol: `TIMEBOX_ENROLMENT_TOKEN=${token} timebox agent enroll --server ${origin} --state-dir ${STATE_DIR}`,
    run: `timebox agent run --state-dir ${STATE_DIR}`,
  };
}

export function AddAgentDialog(props: { tenant: string; onClose: () => void }) {
  const formRef = useRef<HTMLFormElement>(null);
  const [name, setName] = useState('');
  const [minutes, setMinutes] = useState('60');
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<EnrolmentToken | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (name.trim().length > 64) {
      setErrors({ name: 'Use at most 64 characters.' });
      return focusFirstInvalid(formRef.current);
    }
    setBusy(true);
    setErrors({});
    try {
      const body = { ...(name.trim() ? { name: name.trim() } : {}), expiresInMinutes: Number(minutes) };
      setCreated(await call('createAgentEnrolmentToken', { params: { tenant: props.tenant }, body }));
    } catch (err) {
      setErrors(placeError(err, { 'body.name': 'name', 'body.expiresInMinutes': 'expiry' }));
      focusFirstInvalid(formRef.current);
    } finally {
      setBusy(false);
    }
  };

  if (created) {
    const origin = location.origin;
    const cmd = enrolCommands(created.token, origin);
    return (
      <Dialog title={`Enrol ${created.name ?? 'a new agent'}`} onClose={props.onClose} wide>
        <p className="warning" id="token-once">
          <strong>This is the only time the token is shown.</strong> It enrols one host, once, until {formatDate(created.expiresAt)}. Timebox keeps only its
          hash: if it is lost, create another.
        </p>
        <CopyField id="enrolment-token" label="Enrolment token" value={created.token} describedBy="token-once" />
        <h3 className="small-heading">On the host, as root</h3>
        <CopyField id="enrol-command" label="1. Enrol the host" value={cmd.enrol} multiline />
        <CopyField id="run-command" label="2. Start the agent" value={cmd.run} />
        <p className="hint">
          The token goes in an environment variable so it does not show in the process list. The key pair is made on the host and the private key never
          leaves it. To run the agent as a service, use the packaged systemd unit (timebox-agent.service) with the same state directory.
        </p>
        {location.protocol === 'http:' && !loopback(location.hostname) ? (
          <p className="warning">
            The agent accepts plain http:// only to a loopback address: give the server’s https:// address in --server (and --ca-file for a private CA).
          </p>
        ) : null}
        <DialogDone onClose={props.onClose} />
      </Dialog>
    );
  }

  return (
    <Dialog title="Add an agent" onClose={props.onClose}>
      <form ref={formRef} onSubmit={submit} noValidate>
        <p className="hint dialog-intro">A one-time token enrols one Linux host. The agent then connects out to Timebox; nothing connects in to the host.</p>
        <FormError message={errors.form} />
        <TextField
          id="agent-name"
          label="Name (optional)"
          placeholder="e.g. web-01"
          hint="How the agent appears in the fleet; its host name when empty."
          value={name}
          error={errors.name}
          autoFocus
          onChange={(e) => {
            setName(e.target.value);
            setErrors((x) => ({ ...x, name: undefined }));
          }}
        />
        <SelectField id="agent-token-expiry" label="Token valid for" value={minutes} error={errors.expiry} hint="Unused, it stops working after this." onChange={(e) => setMinutes(e.target.value)}>
          {validity.map((v) => (
            <option key={v.minutes} value={String(v.minutes)}>
              {v.label}
            </option>
          ))}
        </SelectField>
        <DialogActions onCancel={props.onClose} busy={busy} busyLabel="Creating…" label="Create enrolment token" />
      </form>
    </Dialog>
  );
}
