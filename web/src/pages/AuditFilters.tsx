/** Audit filters: person, action (grant.* style), and a time range. */
import { useState, type FormEvent } from 'react';
import { SelectField, TextField } from '../components/Field';
import type { Member } from '../../../src/api/types.js';

export interface AuditFilter {
  actorId?: string | undefined;
  action?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
}

export function AuditFilters(props: {
  members: Member[];
  errors: Partial<Record<keyof AuditFilter, string>>;
  onApply: (f: { actorId: string; action: string; since: string; until: string }) => void;
}) {
  const [f, setF] = useState({ actorId: '', action: '', since: '', until: '' });
  const bind = (k: keyof typeof f) => ({ value: f[k], error: props.errors[k], onChange: (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value }) });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    props.onApply(f);
  };
  const clear = () => {
    const empty = { actorId: '', action: '', since: '', until: '' };
    setF(empty);
    props.onApply(empty);
  };
  return (
    <form className="filters" onSubmit={submit} noValidate aria-label="Filter the audit log">
      <SelectField id="audit-person" label="Person" {...bind('actorId')}>
        <option value="">Anyone</option>
        {props.members.map((m) => (
          <option key={m.operator.id} value={m.operator.id}>
            {m.operator.email}
          </option>
        ))}
      </SelectField>
      <TextField id="audit-action" label="Action" placeholder="grant.* or policy.created" {...bind('action')} />
      <TextField id="audit-since" label="From" type="datetime-local" {...bind('since')} />
      <TextField id="audit-until" label="Until" type="datetime-local" {...bind('until')} />
      <div className="filter-actions">
        <button type="submit" className="primary">
          Apply
        </button>
        <button type="button" onClick={clear}>
          Clear
        </button>
      </div>
    </form>
  );
}
