/** Add a PostgreSQL target: connection settings of Timebox's service account on it. */
import { useRef, useState, type FormEvent } from 'react';
import { api, tenantPath } from '../api';
import { FormError, SelectField, TextField } from '../components/Field';
import { useWorkspace } from '../context';
import { focusFirstInvalid, hasErrors, placeError, type FieldErrors } from '../forms';
import type { CheckReport, Target } from '../types';

type Field = 'name' | 'host' | 'port' | 'database' | 'user' | 'password' | 'ssl';
const words: [RegExp, Field][] = [
  [/config\.host/, 'host'],
  [/config\.port/, 'port'],
  [/config\.database/, 'database'],
  [/config\.user/, 'user'],
  [/config\.password/, 'password'],
  [/config\.ssl/, 'ssl'],
  [/target named/, 'name'],
];

export function TargetForm(props: { onCreated: (t: Target, check: CheckReport) => void; onCancel: () => void }) {
  const ws = useWorkspace();
  const formRef = useRef<HTMLFormElement>(null);
  const [v, setV] = useState({ name: '', host: '', port: '5432', database: 'postgres', user: '', password: '', ssl: 'disable' });
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [busy, setBusy] = useState(false);
  const bind = (f: Field) => ({
    value: v[f],
    error: errors[f],
    onChange: (e: { target: { value: string } }) => {
      setV((cur) => ({ ...cur, [f]: e.target.value }));
      setErrors((cur) => ({ ...cur, [f]: undefined }));
    },
  });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const port = Number(v.port);
    const found: FieldErrors<Field> = {
      name: !v.name.trim()
        ? 'Give the target a name.'
        : /^[A-Za-z0-9][A-Za-z0-9 ._-]*$/.test(v.name.trim())
          ? undefined
          : 'Use letters, digits, spaces, dots, underscores and hyphens.',
      host: v.host.trim() ? undefined : 'Enter the host name or address.',
      port: Number.isInteger(port) && port >= 1 && port <= 65535 ? undefined : 'Enter a port from 1 to 65535.',
      database: v.database.trim() ? undefined : 'Enter the database to connect to.',
      user: v.user.trim() ? undefined : 'Enter the service account Timebox signs in as.',
      password: v.password ? undefined : 'Enter the service account’s password.',
    };
    setErrors(found);
    if (hasErrors(found)) return focusFirstInvalid(formRef.current);
    setBusy(true);
    try {
      const res = await api.post<{ target: Target; check: CheckReport }>(tenantPath(ws.slug, '/targets'), {
        name: v.name.trim(),
        kind: 'postgres',
        config: { host: v.host.trim(), port, database: v.database.trim(), user: v.user.trim(), password: v.password, ssl: v.ssl },
      });
      props.onCreated(res.target, res.check);
    } catch (err) {
      setErrors(placeError(err, { 'body.name': 'name' }, words));
      focusFirstInvalid(formRef.current);
      setBusy(false);
    }
  };

  return (
    <form ref={formRef} className="card form" onSubmit={submit} noValidate aria-labelledby="add-target-title">
      <h2 id="add-target-title">Add a PostgreSQL target</h2>
      <FormError message={errors.form} />
      <div className="grid-2">
        <TextField id="target-name" label="Name" hint="How people will see it, e.g. orders-db." {...bind('name')} />
        <SelectField id="target-kind" label="Kind" value="postgres" onChange={() => {}}>
          <option value="postgres">PostgreSQL</option>
        </SelectField>
        <TextField id="target-host" label="Host" autoComplete="off" {...bind('host')} />
        <TextField id="target-port" label="Port" inputMode="numeric" {...bind('port')} />
        <TextField id="target-database" label="Database" {...bind('database')} />
        <SelectField id="target-ssl" label="SSL" {...bind('ssl')}>
          <option value="disable">disable</option>
          <option value="require">require (encrypt, trust any certificate)</option>
          <option value="verify-full">verify-full (check certificate and host)</option>
        </SelectField>
        <TextField id="target-user" label="Service account user" autoComplete="off" hint="Needs CREATEROLE and pg_signal_backend." {...bind('user')} />
        <TextField id="target-password" label="Service account password" type="password" autoComplete="new-password" {...bind('password')} />
      </div>
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
