/**
 * The settings of one target kind, built from its config schema: plain fields first, wide ones
 * (certificates, lists of rules) below, and the rarely needed ones under "Advanced settings".
 * When editing, secrets are never shown: a blank secret keeps the stored one.
 */
import { SelectField, TextArea, TextField } from '../../components/Field';
import { customFields } from './custom-fields';
import type { DraftErrors, FieldSpec, Values } from './schema-fields';

export interface ConfigFieldsProps {
  fields: FieldSpec[];
  values: Values;
  errors: DraftErrors;
  onChange: (key: string, value: unknown) => void;
  onClearErrors: (prefix: string) => void;
  /** Editing a stored target: blank secrets keep their value. */
  editing?: boolean;
  /** Fields fixed by the page (an agent's own host target): not shown. */
  hidden?: string[];
  idPrefix?: string;
}

const wide = (f: FieldSpec) => f.widget === 'pem' || f.widget === 'custom' || f.widget === 'checkboxes' || f.widget === 'lines';

export function ConfigFields(p: ConfigFieldsProps) {
  const shown = p.fields.filter((f) => !p.hidden?.includes(f.key));
  const basic = shown.filter((f) => !f.advanced);
  const advanced = shown.filter((f) => f.advanced);
  return (
    <>
      <div className="grid-2">{basic.filter((f) => !wide(f)).map((f) => <Field key={f.key} f={f} {...p} />)}</div>
      {basic.filter(wide).map((f) => (
        <Field key={f.key} f={f} {...p} />
      ))}
      {advanced.length ? (
        <details className="advanced-settings">
          <summary>Advanced settings</summary>
          <div className="grid-2">
            {advanced.map((f) => (
              <Field key={f.key} f={f} {...p} />
            ))}
          </div>
        </details>
      ) : null}
    </>
  );
}

function Field({ f, values, errors, onChange, onClearErrors, editing, idPrefix }: ConfigFieldsProps & { f: FieldSpec }) {
  const id = `${idPrefix ?? 'target'}-${f.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  const value = values[f.key];
  const error = errors[f.key];
  // Fields with a default start filled in; only those left empty without harm say so.
  const optional = !f.required && f.schema.default === undefined && f.widget !== 'checkbox' && f.widget !== 'custom' && !/optional/i.test(f.title);
  const label = optional ? `${f.title} (optional)` : f.title;
  const hint = editing && f.secret ? [f.description, 'Leave empty to keep the stored one.'].filter(Boolean).join(' ') : f.description;
  const text = { id, label, hint, error, value: String(value ?? ''), placeholder: f.placeholder };
  switch (f.widget) {
    case 'custom':
      return <>{customFields[f.custom!]!.render({ id, spec: f, value, errors, onChange: (v) => onChange(f.key, v), onClearErrors })}</>;
    case 'checkbox':
      return (
        <div className="field">
          <label className="choice">
            <input id={id} type="checkbox" checked={value === true} onChange={(e) => onChange(f.key, e.target.checked)} /> {f.title}
          </label>
          {f.description ? <p className="hint">{f.description}</p> : null}
          {error ? (
            <p className="field-error" role="alert">
              {error}
            </p>
          ) : null}
        </div>
      );
    case 'checkboxes': {
      const chosen = Array.isArray(value) ? (value as string[]) : [];
      return (
        <fieldset className="field group-box" aria-describedby={error ? `${id}-error` : undefined}>
          <legend>{f.title}</legend>
          {f.description ? <p className="hint">{f.description}</p> : null}
          {(f.options ?? []).map((o) => (
            <label key={o} className="choice">
              <input
                type="checkbox"
                checked={chosen.includes(o)}
                onChange={(e) => onChange(f.key, e.target.checked ? [...chosen, o] : chosen.filter((c) => c !== o))}
              />{' '}
              <span className="mono">{o}</span>
            </label>
          ))}
          {error ? (
            <p className="field-error" id={`${id}-error`} role="alert">
              {error}
            </p>
          ) : null}
        </fieldset>
      );
    }
    case 'select':
      return (
        <SelectField {...text} onChange={(e) => onChange(f.key, e.target.value)}>
          {f.required || f.schema.default !== undefined ? null : <option value="">—</option>}
          {(f.options ?? []).map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </SelectField>
      );
    case 'pem':
      return <TextArea {...text} rows={4} className="mono" placeholder="-----BEGIN CERTIFICATE-----" onChange={(e) => onChange(f.key, e.target.value)} />;
    case 'lines':
      return <TextArea {...text} rows={3} className="mono" onChange={(e) => onChange(f.key, e.target.value)} />;
    case 'password':
      return <TextField {...text} type="password" autoComplete="new-password" onChange={(e) => onChange(f.key, e.target.value)} />;
    case 'number':
      return <TextField {...text} inputMode="numeric" onChange={(e) => onChange(f.key, e.target.value)} />;
    default:
      return <TextField {...text} autoComplete="off" onChange={(e) => onChange(f.key, e.target.value)} />;
  }
}
