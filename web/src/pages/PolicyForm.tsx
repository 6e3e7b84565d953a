/** Create a policy: who may ask for what on which target, for how long, with how much reason. */
import { useRef, useState, type FormEvent } from 'react';
import { api, tenantPath } from '../api';
import { FormError, SelectField, TextField } from '../components/Field';
import { useWorkspace } from '../context';
import { parseDuration } from '../format';
import { focusFirstInvalid, hasErrors, placeError, type FieldErrors } from '../forms';
import type { Policy, Role, Target } from '../types';

type Field = 'name' | 'target' | 'entitlements' | 'roles' | 'default' | 'max' | 'reasonMin';
const allRoles: Role[] = ['owner', 'admin', 'approver', 'requester', 'auditor'];
const paths: Partial<Record<string, Field>> = {
  'body.name': 'name',
  'body.targetId': 'target',
  'body.entitlements': 'entitlements',
  'body.requesterRoles': 'roles',
  'body.defaultDurationSeconds': 'default',
  'body.maxDurationSeconds': 'max',
  'body.reasonMinLength': 'reasonMin',
};
const words: [RegExp, Field][] = [
  [/policy named/, 'name'],
  [/default duration/, 'default'],
  [/role/, 'roles'],
  [/target/, 'target'],
];
const durationText = (t: string) => (parseDuration(t) === null ? 'Enter a duration such as 30m, 1h or 1h30m.' : undefined);

export function PolicyForm(props: { targets: Target[]; onCreated: (p: Policy) => void; onCancel: () => void }) {
  const ws = useWorkspace();
  const formRef = useRef<HTMLFormElement>(null);
  const [v, setV] = useState({ name: '', target: '', entitlements: '', def: '1h', max: '4h', reasonMin: '10' });
  const [roles, setRoles] = useState<Role[]>(['requester']);
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [busy, setBusy] = useState(false);
  const bind = (key: keyof typeof v, field: Field) => ({
    value: v[key],
    error: errors[field],
    onChange: (e: { target: { value: string } }) => {
      setV((cur) => ({ ...cur, [key]: e.target.value }));
      setErrors((cur) => ({ ...cur, [field]: undefined }));
    },
  });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const entitlements = v.entitlements.split(/[\s,]+/).filter(Boolean);
    const reasonMin = Number(v.reasonMin || '0');
    const found: FieldErrors<Field> = {
      name: v.name.trim() ? undefined : 'Give the policy a name.',
      roles: roles.length ? undefined : 'Choose at least one role that may use this policy.',
      default: durationText(v.def),
      max: durationText(v.max),
      reasonMin: Number.isInteger(reasonMin) && reasonMin >= 0 && reasonMin <= 500 ? undefined : 'Enter a number from 0 to 500.',
    };
    if (!found.default && !found.max && parseDuration(v.def)! > parseDuration(v.max)!) {
      found.default = 'The default cannot be longer than the maximum.';
    }
    setErrors(found);
    if (hasErrors(found)) return focusFirstInvalid(formRef.current);
    setBusy(true);
    try {
      const policy = await api.post<Policy>(tenantPath(ws.slug, '/policies'), {
        name: v.name.trim(),
        targetId: v.target || null,
        entitlements: entitlements.length ? entitlements : null,
        requesterRoles: roles,
        defaultDurationSeconds: parseDuration(v.def),
        maxDurationSeconds: parseDuration(v.max),
        reasonMinLength: reasonMin,
      });
      props.onCreated(policy);
    } catch (err) {
      setErrors(placeError(err, paths, words));
      focusFirstInvalid(formRef.current);
      setBusy(false);
    }
  };

  return (
    <form ref={formRef} className="card form" onSubmit={submit} noValidate aria-labelledby="new-policy-title">
      <h2 id="new-policy-title">New policy</h2>
      <FormError message={errors.form} />
      <div className="grid-2">
        <TextField id="policy-name" label="Name" {...bind('name', 'name')} />
        <SelectField id="policy-target" label="Target" {...bind('target', 'target')}>
          <option value="">Any target</option>
          {props.targets.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
            </option>
          ))}
        </SelectField>
        <TextField
          id="policy-entitlements"
          label="Groups / roles (optional)"
          hint="Comma separated; empty allows any group on the target."
          {...bind('entitlements', 'entitlements')}
        />
        <TextField id="policy-reason-min" label="Minimum reason length" inputMode="numeric" {...bind('reasonMin', 'reasonMin')} />
        <TextField id="policy-default" label="Default duration" hint="e.g. 1h" {...bind('def', 'default')} />
        <TextField id="policy-max" label="Maximum duration" hint="e.g. 4h" {...bind('max', 'max')} />
      </div>
      <fieldset className="field" aria-describedby={errors.roles ? 'policy-roles-error' : undefined}>
        <legend>Who may request with it</legend>
        <div className="inline wrap">
          {allRoles.map((r) => (
            <label key={r} className="choice">
              <input
                type="checkbox"
                checked={roles.includes(r)}
                onChange={(e) => {
                  setRoles((cur) => (e.target.checked ? [...cur, r] : cur.filter((x) => x !== r)));
                  setErrors((cur) => ({ ...cur, roles: undefined }));
                }}
              />
              {r}
            </label>
          ))}
        </div>
        {errors.roles ? (
          <p className="field-error" id="policy-roles-error" role="alert">
            {errors.roles}
          </p>
        ) : null}
      </fieldset>
      <div className="form-actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create policy'}
        </button>
      </div>
    </form>
  );
}
