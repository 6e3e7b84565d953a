/**
 * Approve, shorten-and-approve, or deny one request or extension. Denying needs a reason; a
 * shortened duration may not exceed what was asked. When the policy demands a fresh code from
 * the approver's authenticator app, the server says so and the code field appears.
 */
import { useRef, useState, type FormEvent } from 'react';
import { call } from '../../api';
import { Dialog } from '../../components/Dialog';
import { DialogActions } from '../../components/DialogActions';
import { FormError, TextArea, TextField } from '../../components/Field';
import { useTotpStep } from '../../components/TotpField';
import { formatDate, formatDuration, parseDuration } from '../../format';
import { focusFirstInvalid, hasErrors, placeError, type FieldErrors } from '../../forms';
import type { Grant, InboxItem } from '../../../../src/api/types.js';
import type { DecisionKind } from './ApprovalCard';

type Field = 'reason' | 'duration';
const paths: Partial<Record<string, Field>> = { 'body.reason': 'reason', 'body.durationSeconds': 'duration' };
const words: [RegExp, Field][] = [
  [/shorten|lengthen|duration/i, 'duration'],
  [/reason|say why/i, 'reason'],
];

const titles: Record<DecisionKind, string> = { approve: 'Approve', shorten: 'Shorten and approve', deny: 'Deny' };

function outcome(kind: DecisionKind, item: InboxItem, grant: Grant | null | undefined, who: string): string {
  if (item.kind === 'extension') {
    if (kind === 'deny') return `Denied ${who} more time.`;
    return grant && grant.expiresAt !== item.grant.expiresAt
      ? `Approved: ${who}'s access now ends ${formatDate(grant.expiresAt)}.`
      : `Approved the extension for ${who}; the next approval level decides now.`;
  }
  if (kind === 'deny') return `Denied the request of ${who}.`;
  if (!grant) return `Approved for ${who}.`;
  if (grant.state === 'requested') return `Approved for ${who}; the next approval level decides now.`;
  if (grant.state === 'active' || grant.state === 'activating') return `Approved: ${who} has access to ${grant.targetName} for ${formatDuration(grant.durationSeconds)}.`;
  if (grant.state === 'approved') return `Approved for ${who}; access starts ${grant.requestedStartAt ? formatDate(grant.requestedStartAt) : 'soon'}.`;
  return `Approved for ${who} (now ${grant.state}).`;
}

export function DecisionDialog(props: { tenant: string; item: InboxItem; kind: DecisionKind; onClose: () => void; onDone: (message: string) => void }) {
  const { item, kind } = props;
  const g = item.grant;
  const ext = item.kind === 'extension';
  const formRef = useRef<HTMLFormElement>(null);
  const [reason, setReason] = useState('');
  const [duration, setDuration] = useState(formatDuration(g.durationSeconds));
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [busy, setBusy] = useState(false);
  const totp = useTotpStep('decision-totp');

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const seconds = parseDuration(duration);
    const found: FieldErrors<Field> = {
      reason: kind === 'deny' && !reason.trim() ? 'Say why you deny it: the requester sees this reason.' : undefined,
      duration:
        kind !== 'shorten'
          ? undefined
          : seconds === null
            ? 'Enter a duration such as 30m or 1h30m.'
            : seconds < 10
              ? 'The duration must be at least 10 seconds.'
              : seconds > g.durationSeconds
                ? `You may shorten it, not lengthen it: at most ${formatDuration(g.durationSeconds)}.`
                : undefined,
    };
    setErrors(found);
    if (hasErrors(found)) return focusFirstInvalid(formRef.current);
    setBusy(true);
    const decision = kind === 'deny' ? 'deny' : 'approve';
    const body = {
      ...(reason.trim() ? { reason: reason.trim() } : {}),
      ...(kind === 'shorten' && seconds !== null && seconds !== g.durationSeconds ? { durationSeconds: seconds } : {}),
      ...totp.body(),
    };
    try {
      let grant: Grant | null;
      if (ext) {
        const params = { tenant: props.tenant, extensionId: item.extensionId ?? '' };
        grant = (decision === 'deny' ? await call('denyExtension', { params, body }) : await call('approveExtension', { params, body })).grant;
      } else {
        const params = { tenant: props.tenant, grantId: g.id };
        grant = decision === 'deny' ? await call('denyRequest', { params, body: { ...body, reason: reason.trim() } }) : await call('approveRequest', { params, body });
      }
      props.onDone(outcome(kind, item, grant, g.operatorEmail));
    } catch (err) {
      if (totp.handle(err)) setErrors({});
      else setErrors(placeError(err, paths, words));
      focusFirstInvalid(formRef.current);
      setBusy(false);
    }
  };

  const what = ext ? `${formatDuration(item.extensionSeconds ?? 0)} more for ${g.operatorEmail}` : `${g.operatorEmail} on ${g.targetName}`;
  return (
    <Dialog title={`${titles[kind]}: ${what}`} onClose={props.onClose}>
      <form ref={formRef} onSubmit={submit} noValidate>
        <p className="hint dialog-intro">
          {g.entitlements.join(', ')} for {formatDuration(g.durationSeconds)}. “{ext ? item.extensionReason : g.reason}”
        </p>
        <FormError message={errors.form} />
        {kind === 'shorten' ? (
          <TextField
            id="decision-duration"
            label="Duration to grant"
            value={duration}
            autoFocus
            hint={`At most the ${formatDuration(g.durationSeconds)} asked for, e.g. 30m.`}
            error={errors.duration}
            onChange={(e) => {
              setDuration(e.target.value);
              setErrors((x) => ({ ...x, duration: undefined }));
            }}
          />
        ) : null}
        <TextArea
          id="decision-reason"
          label={kind === 'deny' ? 'Reason' : 'Comment (optional)'}
          rows={3}
          value={reason}
          autoFocus={kind !== 'shorten'}
          hint={kind === 'deny' ? 'The requester sees it.' : 'Goes into the audit log.'}
          error={errors.reason}
          onChange={(e) => {
            setReason(e.target.value);
            setErrors((x) => ({ ...x, reason: undefined }));
          }}
        />
        {totp.field}
        <DialogActions onCancel={props.onClose} busy={busy} busyLabel="Sending…" label={kind === 'deny' ? 'Deny' : 'Approve'} tone={kind === 'deny' ? 'danger' : 'primary'} />
      </form>
    </Dialog>
  );
}
