/**
 * Add or edit a target: its kind, a name, and the kind's settings, built from the kind's config
 * schema as the server declares it (GET /target-kinds). The server validates everything and tests
 * the connection before saving: its objections appear under the fields they concern, and a failed
 * test is shown with its findings and a "Save anyway" choice (the target is then listed broken).
 */
import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, call, messageOf } from '../api';
import { CheckResult } from '../components/CheckResult';
import { FormError, SelectField, TextField } from '../components/Field';
import { useWorkspace } from '../context';
import type { CheckReport, Target } from '../../../src/api/types.js';
import type { TargetKindInfo } from './targets/json-schema';
import { ConfigFields } from './targets/ConfigFields';
import { useTargetKinds } from './targets/kinds';
import { useTargetDraft } from './targets/useTargetDraft';

interface Props {
  /** The target to edit; absent to add one. */
  editing?: Target;
  onSaved: (t: Target, check: CheckReport | null) => void;
  onCancel: () => void;
}

export function TargetForm(props: Props) {
  const ws = useWorkspace();
  const { kinds, error } = useTargetKinds();
  const [stored, setStored] = useState<Record<string, unknown> | null>(props.editing ? null : {});
  const [loadError, setLoadError] = useState<string | null>(null);
  const editingId = props.editing?.id;
  useEffect(() => {
    if (!editingId) return;
    call('getTargetSettings', { params: { tenant: ws.slug, targetId: editingId } }).then(
      (r) => setStored(r.config),
      (err: unknown) => setLoadError(messageOf(err)),
    );
  }, [ws.slug, editingId]);

  if (error || loadError) return <FormError message={error ?? loadError} />;
  if (!kinds || !stored) return <p className="loading">Loading…</p>;
  return <TargetFormBody {...props} kinds={kinds} stored={stored} />;
}

function TargetFormBody(props: Props & { kinds: TargetKindInfo[]; stored: Record<string, unknown> }) {
  const ws = useWorkspace();
  const editing = props.editing;
  const [kindName, setKindName] = useState(editing?.kind ?? props.kinds[0]?.kind ?? '');
  const kind = props.kinds.find((k) => k.kind === kindName) ?? null;
  const form = useTargetDraft(kind, { name: editing?.name, config: props.stored, editing: !!editing });
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState<CheckReport | null>(null);

  const save = async (saveUnchecked: boolean) => {
    if (!form.check()) return;
    setBusy(true);
    try {
      const body = { name: form.name.trim(), config: form.config(), ...(saveUnchecked ? { saveUnchecked } : {}) };
      const res: { target: Target; check: CheckReport | null } = editing
        ? await call('updateTarget', { params: { tenant: ws.slug, targetId: editing.id }, body })
        : await call('createTarget', { params: { tenant: ws.slug }, body: { ...body, kind: kindName } });
      props.onSaved(res.target, res.check);
    } catch (err) {
      const check = err instanceof ApiError && err.code === 'target_check_failed' ? (err.details as { check?: CheckReport } | undefined)?.check : undefined;
      if (check) setFailed(check);
      else {
        setFailed(null);
        form.refused(err);
      }
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void save(false);
  };

  const title = editing ? `Edit ${editing.name}` : 'Add a target';
  return (
    <form ref={form.formRef} className="card form target-form" onSubmit={submit} noValidate aria-labelledby="target-form-title">
      <h2 id="target-form-title">{title}</h2>
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
        {editing ? (
          <div className="field">
            <span className="label">Kind</span>
            <p>{kind?.label ?? editing.kind}</p>
            {kind ? <p className="hint">{kind.help}</p> : null}
          </div>
        ) : (
          <SelectField
            id="target-kind"
            label="Kind"
            value={kindName}
            hint={kind?.help}
            onChange={(e) => {
              setKindName(e.target.value);
              setFailed(null);
            }}
          >
            {props.kinds.map((k) => (
              <option key={k.kind} value={k.kind}>
                {k.label}
              </option>
            ))}
          </SelectField>
        )}
      </div>
      {kind ? (
        <ConfigFields
          fields={form.fields}
          values={form.values}
          errors={form.errors}
          onChange={form.changeValue}
          onClearErrors={form.clearErrors}
          editing={!!editing}
        />
      ) : (
        <p className="warning">This server has no connector for the kind {kindName}.</p>
      )}
      {failed ? (
        <div className="check-failed" role="alert">
          <p>
            <strong>Not saved: the connection test failed.</strong> Fix the settings and try again, or save anyway: the target is then listed as broken until a
            test passes, and grants on it may fail.
          </p>
          <CheckResult report={failed} title="Connection test of the new settings" />
        </div>
      ) : (
        <p className="hint">The settings are stored encrypted; secrets are never shown again. The connection is tested before saving.</p>
      )}
      <div className="form-actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        {failed ? (
          <button type="button" className="danger" disabled={busy} onClick={() => void save(true)}>
            Save anyway
          </button>
        ) : null}
        <button type="submit" className="primary" disabled={busy || !kind}>
          {busy ? 'Testing…' : failed ? 'Test again and save' : editing ? 'Save changes' : 'Add target'}
        </button>
      </div>
    </form>
  );
}
