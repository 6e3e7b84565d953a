/** Add a target: its kind, a name, and the connection settings of Timebox's service account on it. */
import { useRef, useState, type FormEvent } from 'react';
import { ApiError, api, messageOf, tenantPath } from '../api';
import { FormError, SelectField, TextField } from '../components/Field';
import { useWorkspace } from '../context';
import { focusFirstInvalid } from '../forms';
import { kindLabel } from '../rules';
import type { CheckReport, Target } from '../types';
import { KindFields } from './targets/KindFields';
import { configOf, configProblems, initialValues, splitConfigError, type ConfigValues, type TargetKind } from './targets/target-kinds';

const kinds: TargetKind[] = ['postgres', 'active-directory', 'active-directory-groups'];

export function TargetForm(props: { onCreated: (t: Target, check: CheckReport) => void; onCancel: () => void }) {
  const ws = useWorkspace();
  const formRef = useRef<HTMLFormElement>(null);
  const [kind, setKind] = useState<TargetKind>('postgres');
  const [name, setName] = useState('');
  const [values, setValues] = useState<ConfigValues>(initialValues.postgres);
  const [startTls, setStartTls] = useState(false);
  const [errors, setErrors] = useState<ConfigValues>({});
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found = configProblems(kind, values);
    if (!name.trim()) found.name = 'Give the target a name.';
    else if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/.test(name.trim())) found.name = 'Use letters, digits, spaces, dots, underscores and hyphens.';
    setErrors(found);
    if (Object.keys(found).length) return focusFirstInvalid(formRef.current);
    setBusy(true);
    try {
      const res = await api.post<{ target: Target; check: CheckReport }>(tenantPath(ws.slug, '/targets'), { name: name.trim(), kind, config: configOf(kind, values, { startTls }) });
      props.onCreated(res.target, res.check);
    } catch (err) {
      const message = messageOf(err);
      if (err instanceof ApiError && /target named/.test(message)) setErrors({ name: message });
      else if (err instanceof ApiError && err.status === 400) {
        const { byField, rest } = splitConfigError(message, Object.keys(values));
        setErrors({ ...byField, ...(rest ? { form: rest } : {}) });
      } else setErrors({ form: message });
      focusFirstInvalid(formRef.current);
      setBusy(false);
    }
  };

  return (
    <form ref={formRef} className="card form" onSubmit={submit} noValidate aria-labelledby="add-target-title">
      <h2 id="add-target-title">Add a target</h2>
      <FormError message={errors.form} />
      <div className="grid-2">
        <TextField
          id="target-name"
          label="Name"
          hint="How people will see it, e.g. orders-db."
          value={name}
          error={errors.name}
          onChange={(e) => {
            setName(e.target.value);
            setErrors((cur) => ({ ...cur, name: '' }));
          }}
        />
        <SelectField
          id="target-kind"
          label="Kind"
          value={kind}
          onChange={(e) => {
            const k = e.target.value as TargetKind;
            setKind(k);
            setValues(initialValues[k]);
            setErrors({});
          }}
        >
          {kinds.map((k) => (
            <option key={k} value={k}>
              {kindLabel(k)}
            </option>
          ))}
        </SelectField>
      </div>
      <KindFields
        kind={kind}
        values={values}
        errors={errors}
        flags={{ startTls }}
        onFlags={(f) => setStartTls(f.startTls)}
        onChange={(field, value) => {
          setValues((cur) => ({ ...cur, [field]: value }));
          setErrors((cur) => ({ ...cur, [field]: '' }));
        }}
      />
      <p className="hint">The settings are stored encrypted and never shown again. The connection is tested right after saving.</p>
      <div className="form-actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Adding and testing…' : 'Add target'}
        </button>
      </div>
    </form>
  );
}
