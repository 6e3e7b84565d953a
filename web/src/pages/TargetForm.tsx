/**
 * Add a target: its kind, a name, and the kind's settings (a service account, the credentials it
 * issues, or the host agent). The server validates everything again; its objections appear under
 * the fields they concern and nothing is stored until all of it is accepted.
 */
import { useState, type FormEvent } from 'react';
import { call } from '../api';
import { FormError, SelectField, TextField } from '../components/Field';
import { useWorkspace } from '../context';
import type { CheckReport, Target } from '../../../src/api/types.js';
import { KindFields } from './targets/KindFields';
import { configOf, fieldOfPath, kindInfos, type TargetKind } from './targets/target-kinds';
import { useTargetDraft } from './targets/useTargetDraft';

export function TargetForm(props: { onCreated: (t: Target, check: CheckReport) => void; onCancel: () => void }) {
  const ws = useWorkspace();
  const [kind, setKind] = useState<TargetKind>('postgres');
  const form = useTargetDraft(kind);
  const [busy, setBusy] = useState(false);
  const info = kindInfos.find((k) => k.kind === kind)!;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!form.check()) return;
    setBusy(true);
    try {
      const res = await call('createTarget', { params: { tenant: ws.slug }, body: { name: form.name.trim(), kind, config: configOf(kind, form.draft) } });
      props.onCreated(res.target, res.check);
    } catch (err) {
      form.refused(err, (path) => fieldOfPath(kind, form.draft, path));
      setBusy(false);
    }
  };

  return (
    <form ref={form.formRef} className="card form" onSubmit={submit} noValidate aria-labelledby="add-target-title">
      <h2 id="add-target-title">Add a target</h2>
      <FormError message={form.errors.form} />
      <div className="grid-2">
        <TextField
          id="target-name"
          label="Name"
          hint="How people will see it, e.g. orders-db."
          value={form.name}
          error={form.errors.name}
          onChange={(e) => form.changeName(e.target.value)}
        />
        <SelectField
          id="target-kind"
          label="Kind"
          value={kind}
          hint={info.help}
          onChange={(e) => {
            const k = e.target.value as TargetKind;
            setKind(k);
            form.reset(k);
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
        draft={form.draft}
        errors={form.errors}
        onChange={form.changeValue}
        onRules={form.changeRules}
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
