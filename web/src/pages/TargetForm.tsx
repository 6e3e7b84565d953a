/**
 * Add a target: its kind, a name, and the kind's settings (a service account, the credentials it
 * issues, or the host agent). The server validates everything again; its objections appear under
 * the fields they concern and nothing is stored until all of it is accepted.
 */
import { useRef, useState, type FormEvent } from 'react';
import { api, tenantPath } from '../api';
import { FormError, SelectField, TextField } from '../components/Field';
import { useWorkspace } from '../context';
import { focusFirstInvalid } from '../forms';
import type { CheckReport, Target } from '../types';
import { placeConfigErrors } from './targets/config-errors';
import { KindFields } from './targets/KindFields';
import { configOf, draftProblems, fieldOfPath, initialDraft, kindInfos, targetNameProblem, type DraftErrors, type TargetDraft, type TargetKind } from './targets/target-kinds';

export function TargetForm(props: { onCreated: (t: Target, check: CheckReport) => void; onCancel: () => void }) {
  const ws = useWorkspace();
  const formRef = useRef<HTMLFormElement>(null);
  const [kind, setKind] = useState<TargetKind>('postgres');
  const [name, setName] = useState('');
  const [draft, setDraft] = useState<TargetDraft>(() => initialDraft('postgres'));
  const [errors, setErrors] = useState<DraftErrors>({});
  const [busy, setBusy] = useState(false);
  const info = kindInfos.find((k) => k.kind === kind)!;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found = draftProblems(kind, draft);
    const nameProblem = targetNameProblem(name);
    if (nameProblem) found.name = nameProblem;
    setErrors(found);
    if (Object.keys(found).length) return focusFirstInvalid(formRef.current);
    setBusy(true);
    try {
      const res = await api.post<{ target: Target; check: CheckReport }>(tenantPath(ws.slug, '/targets'), { name: name.trim(), kind, config: configOf(kind, draft) });
      props.onCreated(res.target, res.check);
    } catch (err) {
      setErrors(placeConfigErrors(err, (path) => fieldOfPath(kind, draft, path)));
      focusFirstInvalid(formRef.current);
      setBusy(false);
    }
  };

  const clear = (field: string) => setErrors((cur) => (cur[field] ? { ...cur, [field]: '' } : cur));

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
            clear('name');
          }}
        />
        <SelectField
          id="target-kind"
          label="Kind"
          value={kind}
          hint={info.help}
          onChange={(e) => {
            const k = e.target.value as TargetKind;
            setKind(k);
            setDraft(initialDraft(k));
            setErrors({});
          }}
        >
          {kindInfos.map((k) => (
            <option key={k.kind} value={k.kind}>
              {k.label}
            </option>
          ))}
        </SelectField>
      </div>
      <KindFields
        kind={kind}
        draft={draft}
        errors={errors}
        onChange={(field, value) => {
          setDraft((cur) => ({ ...cur, values: { ...cur.values, [field]: value } }));
          clear(field);
        }}
        onRules={(sudoRules) => {
          setDraft((cur) => ({ ...cur, sudoRules }));
          setErrors((cur) => Object.fromEntries(Object.entries(cur).filter(([k]) => !k.startsWith('sudoRules'))));
        }}
      />
      <p className="hint">The settings are stored encrypted and never shown again. The target is tested right after saving.</p>
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
