/**
 * Field components a kind may ask for by name (`x-widget` in its config schema) when a plain
 * control will not do. Every other field is built from the schema alone (schema-fields.ts), so a
 * new kind needs nothing here unless it wants a control of its own.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { allPages, messageOf } from '../../api';
import { SelectField } from '../../components/Field';
import { useWorkspace } from '../../context';
import { Link } from '../../router';
import type { Agent } from '../../../../src/api/types.js';
import type { DraftErrors, FieldSpec } from './schema-fields';
import { SudoRulesEditor } from './SudoRulesEditor';
import { ruleFieldOfPath, rulesFromConfig, rulesToConfig, type SudoRuleDraft } from './sudo-rules';

export interface CustomFieldProps {
  id: string;
  spec: FieldSpec;
  value: unknown;
  errors: DraftErrors;
  onChange: (value: unknown) => void;
  /** Error keys of the component's own parts go away when they change. */
  onClearErrors: (prefix: string) => void;
}

export interface CustomField {
  /** The form's value from the stored (or default) config value. */
  initial(stored: unknown): unknown;
  /** The config value sent, or undefined to leave the key out. */
  toConfig(value: unknown): unknown;
  /** The error key of a server message about `rest` (the path inside this field). */
  fieldOfPath?(value: unknown, rest: string[]): string | null;
  render(p: CustomFieldProps): ReactNode;
}

function AgentPicker(p: CustomFieldProps) {
  const ws = useWorkspace();
  const [agents, setAgents] = useState<Agent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    allPages('listAgents', { params: { tenant: ws.slug } }).then(
      (list) => setAgents(list.filter((a) => !a.revoked)),
      (err: unknown) => setError(messageOf(err)),
    );
  }, [ws.slug]);
  if (agents && agents.length === 0) {
    return (
      <p className="warning" role="status">
        No agent is enrolled in this tenant yet. <Link to={`/t/${ws.slug}/agents`}>Add an agent</Link> on the host first; its target can then be created here
        or from the fleet.
        {p.errors[p.spec.key] ? <span className="sr-only"> {p.errors[p.spec.key]}</span> : null}
      </p>
    );
  }
  return (
    <SelectField
      id={p.id}
      label={p.spec.title}
      hint={`${p.spec.description ?? ''} One target of this kind per agent; revoked agents are not offered.`.trim()}
      disabled={agents === null}
      value={String(p.value ?? '')}
      error={p.errors[p.spec.key] ?? error}
      onChange={(e) => p.onChange(e.target.value)}
    >
      <option value="">{agents === null ? 'Loading agents…' : 'Choose an agent…'}</option>
      {(agents ?? []).map((a) => (
        <option key={a.id} value={a.id}>
          {a.name} ({a.hostname})
        </option>
      ))}
    </SelectField>
  );
}

export const customFields: Record<string, CustomField> = {
  agent: {
    initial: (stored) => (typeof stored === 'string' ? stored : ''),
    toConfig: (v) => (v ? v : undefined),
    render: (p) => <AgentPicker {...p} />,
  },
  'sudo-rules': {
    initial: rulesFromConfig,
    toConfig: (v) => rulesToConfig(v as SudoRuleDraft[]),
    fieldOfPath: (v, rest) => ruleFieldOfPath(v as SudoRuleDraft[], rest),
    render: (p) => (
      <SudoRulesEditor
        rules={p.value as SudoRuleDraft[]}
        errors={p.errors}
        idPrefix={p.id}
        onChange={(next) => {
          p.onChange(next);
          p.onClearErrors('sudoRules');
        }}
      />
    ),
  },
};
