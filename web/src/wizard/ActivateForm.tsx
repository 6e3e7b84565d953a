/**
 * The activation form: target, username (editable only before the account exists), groups or
 * roles, policy (pencil to change), duration within the policy, reason, ticket. Targets that issue
 * a certificate or token name the requester instead of a username, and may take a public key.
 * Checked here as the person types; the server checks again and its answer is shown at the field
 * it concerns.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { call } from '../api';
import { FormError, SelectField, TextArea, TextField } from '../components/Field';
import { PolicyPicker } from '../components/PolicyPicker';
import { useTotpStep } from '../components/TotpField';
import { useWorkspace } from '../context';
import { formatDuration, localInputToIso, parseDuration } from '../format';
import { useServerClock } from '../live';
import { focusFirstInvalid, hasErrors, placeError, type FieldErrors } from '../forms';
import { fittingPolicies } from '../policy-match';
import { accountNameProblem, defaultAccountName } from '../rules';
import type { Grant, JitAccount, Policy, Target } from '../../../src/api/types.js';
import type { TargetKindInfo } from '../pages/targets/json-schema';
import { askWords, durationProblem, reasonProblem } from './ask-rules';
import { AskExtras, extrasProblems, noExtras, type Extras } from './AskExtras';
import { entitlementWords, namesRequester, takesPublicKey } from './credential-kinds';
import { EntitlementPicker } from './EntitlementPicker';
import { PublicKeyField, publicKeyProblem } from './PublicKeyField';

type Field = 'target' | 'username' | 'publicKey' | 'entitlements' | 'policy' | 'duration' | 'reason' | 'ticket' | 'startAt';
// Key messages first: "SSH public key refused: …", "CSR: …", "public key: …" name no other field.
const words: [RegExp, Field][] = [
  [/public key|CSR|PEM|certificate request/i, 'publicKey'],
  [/principal|scope/i, 'entitlements'],
  [/ticket/i, 'ticket'],
  [/start/i, 'startAt'],
  ...askWords,
];

const serverPaths: Partial<Record<string, Field>> = {
  'body.targetId': 'target',
  'body.accountName': 'username',
  'body.publicKey': 'publicKey',
  'body.entitlements': 'entitlements',
  'body.policyId': 'policy',
  'body.durationSeconds': 'duration',
  'body.reason': 'reason',
  'body.ticket': 'ticket',
  'body.startAt': 'startAt',
};

export function ActivateForm(props: {
  kind: string;
  /** The server's word on the kind (GET /target-kinds): its label and name rules; absent if unknown. */
  kindInfo: Pick<TargetKindInfo, 'label' | 'accountNameRules'> | undefined;
  targets: Target[];
  policies: Policy[];
  mine: JitAccount[];
  /** The operator groups the person belongs to: policies may name requesters by group. */
  myGroups: string[];
  onBack: () => void;
  onCreated: (grant: Grant) => void;
}) {
  const ws = useWorkspace();
  const formRef = useRef<HTMLFormElement>(null);
  const [targetId, setTargetId] = useState(props.targets[0]?.id ?? '');
  const [username, setUsername] = useState(() => defaultAccountName(ws.me.email));
  const [publicKey, setPublicKey] = useState('');
  const [entitlements, setEntitlements] = useState<string[]>([]);
  const [policyId, setPolicyId] = useState<string | null>(null);
  const [duration, setDuration] = useState('');
  const [durationTouched, setDurationTouched] = useState(false);
  const [reason, setReason] = useState('');
  const [extras, setExtras] = useState<Extras>(noExtras);
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [busy, setBusy] = useState(false);

  const existing = props.mine.find((a) => a.targetId === targetId);
  const requester = namesRequester(props.targets.find((t) => t.id === targetId), props.kind);
  const withKey = takesPublicKey(props.kind);
  const terms = entitlementWords(props.kind);
  const kindLabel = props.kindInfo?.label ?? props.kind;
  const fitting = fittingPolicies(props.policies, { targetId, entitlements, roles: ws.tenant.roles, operatorId: ws.me.id, groupIds: props.myGroups });
  const policy = fitting.find((p) => p.id === policyId) ?? fitting[0];
  const totp = useTotpStep('request-totp', !!policy?.rules?.mfa.request);
  const serverNow = useServerClock();
  const needsApproval = !extras.emergency && (policy?.rules?.approvalLevels.length ?? 0) > 0;

  useEffect(() => {
    if (policy && !durationTouched) setDuration(formatDuration(policy.defaultDurationSeconds));
  }, [policy?.id, durationTouched]);

  const usernameLive = existing || requester ? null : accountNameProblem(props.kindInfo?.accountNameRules, username);
  const set = (field: Field, message: string | null) => setErrors((e) => ({ ...e, [field]: message ?? undefined, form: undefined }));

  const validate = (): FieldErrors<Field> => ({
    target: targetId ? undefined : 'Choose a target.',
    username: usernameLive ?? undefined,
    publicKey: withKey ? (publicKeyProblem(publicKey) ?? undefined) : undefined,
    entitlements: entitlements.length ? undefined : `Choose at least one ${terms.noun ?? 'group or role'}.`,
    policy: policy ? undefined : 'No policy lets you request this on this target. Ask an admin for one.',
    duration: durationProblem(duration, policy) ?? undefined,
    reason: reasonProblem(reason, policy) ?? undefined,
    ...extrasProblems(extras, policy, serverNow()),
  });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found = validate();
    setErrors(found);
    if (hasErrors(found)) return focusFirstInvalid(formRef.current);
    setBusy(true);
    try {
      const grant = await call('requestAccess', { params: { tenant: ws.slug }, body: {
        targetId,
        entitlements,
        durationSeconds: parseDuration(duration) ?? undefined,
        reason: reason.trim(),
        ...(extras.ticket.trim() ? { ticket: extras.ticket.trim() } : {}),
        ...(extras.startAt && !extras.emergency ? { startAt: localInputToIso(extras.startAt) } : {}),
        ...(extras.emergency ? { emergency: true } : {}),
        ...totp.body(),
        ...(policy ? { policyId: policy.id } : {}),
        ...(existing || requester ? {} : { accountName: username }),
        ...(withKey && publicKey.trim() ? { publicKey: publicKey.trim() } : {}),
      } });
      if (['active', 'activating', 'requested', 'approved'].includes(grant.state)) props.onCreated(grant);
      else setErrors({ form: `The account could not be activated: ${grant.lastError ?? grant.endReason ?? grant.state}.` });
    } catch (err) {
      const placed = totp.handle(err) ? {} : placeError(err, serverPaths, words);
      // A message for a field this target does not show (username, public key) goes to the top.
      const hidden = (['username', 'publicKey'] as const).find((f) => placed[f] && (f === 'username' ? requester : !withKey));
      setErrors(hidden ? { ...placed, [hidden]: undefined, form: placed[hidden] } : placed);
      focusFirstInvalid(formRef.current);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form ref={formRef} className="card form" onSubmit={submit} noValidate aria-label={`Activate ${kindLabel} JIT account`}>
      <p className="step">
        Account type: <strong>{kindLabel}</strong>{' '}
        <button type="button" className="link-button" onClick={props.onBack}>
          change
        </button>
      </p>
      <FormError message={errors.form} />
      <div className="wizard-grid">
        <div>
          <SelectField
            id="target"
            label="Target"
            value={targetId}
            error={errors.target}
            onChange={(e) => {
              setTargetId(e.target.value);
              setEntitlements([]);
              setPolicyId(null);
            }}
          >
            {props.targets.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </SelectField>
          {requester ? (
            <p className="issued-to" data-testid="issued-to">
              Issued to <strong>{ws.me.email}</strong>: on this target the credential names you, so there is no username to choose.
            </p>
          ) : (
            <TextField
              id="username"
              label="Username"
              value={existing ? existing.username : username}
              readOnly={!!existing}
              autoComplete="off"
              spellCheck={false}
              hint={existing ? 'Your account on this target exists already; its username cannot be changed.' : 'Can only be chosen now, when the account is first created.'}
              error={errors.username ?? usernameLive}
              onChange={(e) => {
                setUsername(e.target.value);
                set('username', null);
              }}
            />
          )}
          <EntitlementPicker
            tenant={ws.slug}
            targetId={targetId}
            selected={entitlements}
            legend={terms.legend}
            searchLabel={terms.searchLabel}
            error={errors.entitlements}
            onChange={(next) => {
              setEntitlements(next);
              set('entitlements', null);
            }}
          />
          {withKey ? (
            <PublicKeyField
              kind={props.kind}
              value={publicKey}
              error={errors.publicKey}
              onChange={(next) => {
                setPublicKey(next);
                set('publicKey', null);
              }}
            />
          ) : null}
        </div>
        <div>
          <PolicyPicker
            id="policy"
            fitting={fitting}
            chosen={policy}
            error={errors.policy}
            emptyText="No policy covers this request yet."
            onChange={(id) => {
              setPolicyId(id);
              set('policy', null);
            }}
          />
          <TextField
            id="duration"
            label="Duration"
            value={duration}
            hint={policy ? `e.g. 30m or 1h30m; at most ${formatDuration(policy.maxDurationSeconds)}.` : 'e.g. 30m or 1h30m.'}
            error={errors.duration}
            onChange={(e) => {
              setDuration(e.target.value);
              setDurationTouched(true);
              set('duration', null);
            }}
          />
          <AskExtras
            policy={policy}
            value={extras}
            errors={errors}
            onChange={(next, field) => {
              setExtras(next);
              if (field !== 'emergency') set(field, null);
            }}
          />
          <TextArea
            id="reason"
            label="Reason"
            rows={3}
            required
            value={reason}
            hint="Why you need this access; it goes into the audit log."
            error={errors.reason}
            onChange={(e) => {
              setReason(e.target.value);
              set('reason', null);
            }}
          />
          {totp.field}
        </div>
      </div>
      <div className="form-actions">
        {needsApproval ? <span className="hint">Approvers are asked first; you are told when it is decided.</span> : null}
        <button type="submit" className={extras.emergency ? 'danger' : 'primary'} disabled={busy}>
          {busy ? 'Sending…' : extras.emergency ? 'Activate now (break-glass)' : needsApproval ? 'Send for approval' : 'Activate'}
        </button>
      </div>
    </form>
  );
}
