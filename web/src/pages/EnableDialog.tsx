/** "Enable again": a new grant for an existing JIT account, with a new reason and duration. */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { call, messageOf } from '../api';
import { Dialog } from '../components/Dialog';
import { DialogActions } from '../components/DialogActions';
import { FormError, TextArea, TextField } from '../components/Field';
import { PolicyPicker } from '../components/PolicyPicker';
import { useWorkspace } from '../context';
import { formatDuration, parseDuration } from '../format';
import { focusFirstInvalid, hasErrors, placeError, type FieldErrors } from '../forms';
import { fittingPolicies } from '../policy-match';
import type { Grant, JitAccount, Policy } from '../../../src/api/types.js';
import { askWords, durationProblem, reasonProblem } from '../wizard/ask-rules';
import { issuesCredential } from '../wizard/credential-kinds';

type Field = 'reason' | 'duration' | 'policy';
const serverPaths: Partial<Record<string, Field>> = { 'body.reason': 'reason', 'body.durationSeconds': 'duration', 'body.policyId': 'policy' };
const words = askWords.filter((w): w is [RegExp, Field] => ['reason', 'duration', 'policy'].includes(w[1]));

export function EnableDialog(props: { account: JitAccount; lastGrant: Grant | undefined; onClose: () => void; onEnabled: (g: Grant) => void }) {
  const ws = useWorkspace();
  const { account } = props;
  const formRef = useRef<HTMLFormElement>(null);
  const [policies, setPolicies] = useState<Policy[] | null>(null);
  const [policyId, setPolicyId] = useState<string | null>(null);
  const [duration, setDuration] = useState('');
  const [touched, setTouched] = useState(false);
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    call('listPolicies', { params: { tenant: ws.slug } }).then(
      (r) => setPolicies(r.items),
      (err: unknown) => setErrors({ form: messageOf(err) }),
    );
  }, [ws.slug]);

  const entitlements = props.lastGrant?.entitlements ?? [];
  const fitting = fittingPolicies(policies ?? [], { targetId: account.targetId, entitlements, roles: ws.tenant.roles, operatorId: ws.me.id });
  const policy = fitting.find((p) => p.id === policyId) ?? fitting[0];
  useEffect(() => {
    if (policy && !touched) setDuration(formatDuration(policy.defaultDurationSeconds));
  }, [policy?.id, touched]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found: FieldErrors<Field> = {
      reason: reasonProblem(reason, policy) ?? undefined,
      duration: durationProblem(duration, policy) ?? undefined,
      policy: policies && !policy ? 'No policy covers this account any more. Ask an admin.' : undefined,
    };
    setErrors(found);
    if (hasErrors(found)) return focusFirstInvalid(formRef.current);
    setBusy(true);
    try {
      const grant = await call('enableJitAccount', { params: { tenant: ws.slug, accountId: account.id }, body: {
        reason: reason.trim(),
        durationSeconds: parseDuration(duration) ?? undefined,
        ...(policy ? { policyId: policy.id } : {}),
      } });
      props.onEnabled(grant);
    } catch (err) {
      setErrors(placeError(err, serverPaths, words));
      focusFirstInvalid(formRef.current);
      setBusy(false);
    }
  };

  return (
    <Dialog title={`Enable ${account.username} again`} onClose={props.onClose}>
      <form ref={formRef} onSubmit={submit} noValidate>
        <p className="hint dialog-intro">
          On <strong>{account.targetName}</strong> with {entitlements.length ? entitlements.join(', ') : 'the same groups as last time'}.{' '}
          {issuesCredential(account.targetKind)
            ? 'A new credential is issued, with a key pair Timebox generates (to use your own key, activate it from the wizard).'
            : 'A new password is generated.'}
        </p>
        <FormError message={errors.form} />
        <TextArea
          id="enable-reason"
          label="Reason"
          rows={3}
          value={reason}
          error={errors.reason}
          onChange={(e) => {
            setReason(e.target.value);
            setErrors((x) => ({ ...x, reason: undefined }));
          }}
        />
        <TextField
          id="enable-duration"
          label="Duration"
          value={duration}
          hint={policy ? `At most ${formatDuration(policy.maxDurationSeconds)}.` : undefined}
          error={errors.duration}
          onChange={(e) => {
            setDuration(e.target.value);
            setTouched(true);
            setErrors((x) => ({ ...x, duration: undefined }));
          }}
        />
        <PolicyPicker
          id="enable-policy"
          fitting={fitting}
          chosen={policy}
          error={errors.policy}
          emptyText={policies ? 'No policy covers this account.' : 'Loading policies…'}
          onChange={setPolicyId}
        />
        <DialogActions onCancel={props.onClose} busy={busy} busyLabel="Enabling…" label="Enable" />
      </form>
    </Dialog>
  );
}
