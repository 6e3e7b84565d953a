/**
 * "Extend": more time on an active grant, with a reason. Within the policy's cap it is applied
 * at once (new end shown) or sent to the approvers, as the policy says.
 */
import { useRef, useState, type FormEvent } from 'react';
import { call } from '../api';
import { Dialog } from '../components/Dialog';
import { DialogActions, DialogDone } from '../components/DialogActions';
import { FormError, TextArea, TextField } from '../components/Field';
import { useWorkspace } from '../context';
import { formatDate, parseDuration } from '../format';
import { focusFirstInvalid, hasErrors, placeError, type FieldErrors } from '../forms';
import type { Grant, JitAccount } from '../../../src/api/types.js';

type Field = 'seconds' | 'reason';
const paths: Partial<Record<string, Field>> = { 'body.seconds': 'seconds', 'body.reason': 'reason' };
const words: [RegExp, Field][] = [
  [/extend|caps a grant|seconds/i, 'seconds'],
  [/reason/i, 'reason'],
];

export function ExtendDialog(props: { account: JitAccount; grant: Grant; onClose: () => void }) {
  const ws = useWorkspace();
  const formRef = useRef<HTMLFormElement>(null);
  const [more, setMore] = useState('30m');
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ applied: boolean; grant: Grant } | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const seconds = parseDuration(more);
    const found: FieldErrors<Field> = {
      seconds: seconds === null ? 'Enter a duration such as 30m or 1h.' : seconds < 10 ? 'Ask for at least 10 seconds.' : undefined,
      reason: reason.trim() ? undefined : 'A reason is required: say why you need more time.',
    };
    setErrors(found);
    if (hasErrors(found)) return focusFirstInvalid(formRef.current);
    setBusy(true);
    try {
      const r = await call('extendGrant', { params: { tenant: ws.slug, grantId: props.grant.id }, body: { seconds: seconds ?? 0, reason: reason.trim() } });
      setResult(r);
    } catch (err) {
      setErrors(placeError(err, paths, words));
      focusFirstInvalid(formRef.current);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title={`Extend ${props.account.username}`} onClose={props.onClose}>
      {result ? (
        <div>
          <p className="notice" role="status">
            {result.applied ? `Extended: the access now ends ${formatDate(result.grant.expiresAt)}.` : 'Sent for approval. The access keeps its current end until the approvers agree.'}
          </p>
          <DialogDone onClose={props.onClose} autoFocus />
        </div>
      ) : (
        <form ref={formRef} onSubmit={submit} noValidate>
          <p className="hint dialog-intro">
            On <strong>{props.account.targetName}</strong>, now ending {formatDate(props.grant.expiresAt)}.
          </p>
          <FormError message={errors.form} />
          <TextField
            id="extend-seconds"
            label="More time"
            value={more}
            hint="e.g. 30m or 1h; the policy caps the total."
            error={errors.seconds}
            onChange={(e) => {
              setMore(e.target.value);
              setErrors((x) => ({ ...x, seconds: undefined }));
            }}
          />
          <TextArea
            id="extend-reason"
            label="Reason"
            rows={3}
            value={reason}
            error={errors.reason}
            onChange={(e) => {
              setReason(e.target.value);
              setErrors((x) => ({ ...x, reason: undefined }));
            }}
          />
          <DialogActions onCancel={props.onClose} busy={busy} busyLabel="Sending…" label="Extend" />
        </form>
      )}
    </Dialog>
  );
}
