/**
 * Create or edit a policy: who may ask for what on which target, for how long, when, with which
 * approvals, and under which extra rules. Saving an edit makes a new version (the server keeps
 * the old one for requests already waiting). Checked here for form; the server checks the meaning
 * and its problems are shown at the part of the form they name. Nothing is saved on a problem.
 */
import { useRef, useState, type FormEvent, type ReactNode } from 'react';
import { call } from '../../api';
import { FormError, SelectField, TextField } from '../../components/Field';
import { useWorkspace } from '../../context';
import { focusFirstInvalid } from '../../forms';
import type { Directory } from '../../hooks/useDirectory';
import type { Policy, Target } from '../../../../src/api/types.js';
import { AutoApproveEditor } from './AutoApproveEditor';
import { draftOf, emptyDraft, placePolicyError, toBody, type PolicyDraft, type PolicyErrors } from './draft';
import { LevelsEditor } from './LevelsEditor';
import { RequestersFields } from './RequestersFields';
import { SwitchesFields } from './SwitchesFields';
import { WindowsEditor } from './WindowsEditor';

function Section(props: { id: string; title: string; intro?: string; children: ReactNode }) {
  return (
    <section className="form-section" aria-labelledby={props.id}>
      <h3 id={props.id}>{props.title}</h3>
      {props.intro ? <p className="hint section-intro">{props.intro}</p> : null}
      {props.children}
    </section>
  );
}

export function PolicyEditor(props: { targets: Target[]; directory: Directory; editing?: Policy; onCreated: (p: Policy) => void; onCancel: () => void }) {
  const ws = useWorkspace();
  const formRef = useRef<HTMLFormElement>(null);
  const editing = props.editing;
  const [d, setD] = useState<PolicyDraft>(() => (editing ? draftOf(editing) : emptyDraft()));
  const [errors, setErrors] = useState<PolicyErrors>({});
  const [busy, setBusy] = useState(false);
  const { members, groups } = props.directory;
  const set = (patch: Partial<PolicyDraft>) => setD((cur) => ({ ...cur, ...patch }));
  const text = (key: keyof PolicyDraft, field: string) => ({
    value: d[key] as string,
    error: errors[field],
    onChange: (e: { target: { value: string } }) => {
      set({ [key]: e.target.value } as Partial<PolicyDraft>);
      setErrors((cur) => ({ ...cur, [field]: undefined }));
    },
  });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const { body, errors: found } = toBody(d);
    if (!body) {
      setErrors(found);
      return focusFirstInvalid(formRef.current);
    }
    setBusy(true);
    try {
      props.onCreated(
        editing
          ? await call('updatePolicy', { params: { tenant: ws.slug, policyId: editing.id }, body })
          : await call('createPolicy', { params: { tenant: ws.slug }, body }),
      );
    } catch (err) {
      const placed = placePolicyError(err, d);
      const count = Object.keys(placed).filter((k) => k !== 'form').length;
      setErrors({ ...placed, form: placed.form ?? (count ? `The policy was not saved: the server found ${count === 1 ? 'a problem' : `${count} problems`}, shown below.` : undefined) });
      // The summary first: the problems may sit in levels or windows far down the form.
      requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>('.form-error')?.focus());
      setBusy(false);
    }
  };

  return (
    <form ref={formRef} className="card form policy-editor" onSubmit={submit} noValidate aria-labelledby="new-policy-title">
      <h2 id="new-policy-title">{editing ? `Edit policy “${editing.name}”` : 'New policy'}</h2>
      {editing ? <p className="hint">Saving makes a new version: requests already waiting for approval, and grants already running, keep the rules they were asked under.</p> : null}
      <FormError message={errors.form} />
      <Section id="policy-basics" title="What and how long">
        <div className="grid-3">
          <TextField id="policy-name" label="Name" {...text('name', 'name')} />
          <SelectField id="policy-target" label="Target" {...text('targetId', 'target')}>
            <option value="">Any target</option>
            {props.targets.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </SelectField>
          <TextField id="policy-entitlements" label="Groups / roles (optional)" hint="Comma separated; empty allows any." {...text('entitlements', 'entitlements')} />
          <TextField id="policy-default" label="Default duration" hint="e.g. 1h" {...text('def', 'default')} />
          <TextField id="policy-max" label="Maximum duration" hint="e.g. 4h" {...text('max', 'max')} />
          <TextField id="policy-reason-min" label="Minimum reason length" inputMode="numeric" {...text('reasonMin', 'reasonMin')} />
        </div>
      </Section>
      <Section id="policy-requesters" title="Who may request" intro="Anyone who has one of these roles, is one of these people, or is in one of these groups.">
        <RequestersFields
          roles={d.roles}
          operatorIds={d.operatorIds}
          groupIds={d.groupIds}
          members={members}
          groups={groups}
          error={errors.requesters}
          onChange={(patch) => {
            set(patch);
            setErrors((cur) => ({ ...cur, requesters: undefined }));
          }}
        />
      </Section>
      <Section id="policy-windows" title="Access windows" intro="When access may run. Outside every window requests are refused (break-glass excepted).">
        <WindowsEditor windows={d.windows} errors={errors} onChange={(windows) => set({ windows })} />
      </Section>
      <Section id="policy-levels" title="Approval levels" intro="Asked in order; each level must reach its quorum before the next is asked.">
        <LevelsEditor levels={d.levels} members={members} groups={groups} errors={errors} onChange={(levels) => set({ levels })} />
      </Section>
      <Section id="policy-auto" title="Auto-approval" intro="Requests matching a rule skip the approval levels.">
        <AutoApproveEditor rules={d.auto} groups={groups} errors={errors} onChange={(auto) => set({ auto })} />
      </Section>
      <Section id="policy-more" title="More rules">
        <SwitchesFields d={d} errors={errors} set={set} />
      </Section>
      <div className="form-actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? (editing ? 'Saving…' : 'Creating…') : editing ? 'Save changes' : 'Create policy'}
        </button>
      </div>
    </form>
  );
}
