/**
 * A host target's settings: the enrolled agent (picked from the fleet, unless the form is opened
 * for one agent), the sudo rules and local groups it offers, and how passwords of new accounts
 * reach people (not for existing users, who have their own).
 */
import { useEffect, useState } from 'react';
import { allPages, messageOf } from '../../api';
import { SelectField, TextField } from '../../components/Field';
import { useWorkspace } from '../../context';
import { Link } from '../../router';
import type { Agent } from '../../../../src/api/types.js';
import { binder, type FieldProps } from './field-binding';
import type { SudoRuleDraft } from './linux-agent-kind';
import { SudoRulesEditor } from './SudoRulesEditor';

function AgentPicker(p: FieldProps) {
  const ws = useWorkspace();
  const [agents, setAgents] = useState<Agent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    allPages('listAgents', { params: { tenant: ws.slug } }).then(
      (list) => setAgents(list.filter((a) => !a.revoked)),
      (err: unknown) => setError(messageOf(err)),
    );
  }, [ws.slug]);
  const bind = binder(p);
  if (agents && agents.length === 0) {
    return (
      <p className="warning" role="status">
        No agent is enrolled in this tenant yet. <Link to={`/t/${ws.slug}/agents`}>Add an agent</Link> on the host first; its target can then be created here
        or from the fleet.
        {p.errors.agentId ? <span className="sr-only"> {p.errors.agentId}</span> : null}
      </p>
    );
  }
  return (
    <SelectField
      id="target-agent"
      label="Agent"
      hint="The enrolled host; one target of this kind per agent. Revoked agents are not offered."
      disabled={agents === null}
      {...bind('agentId')}
      error={p.errors.agentId ?? error}
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

export function LinuxAgentFields(
  p: FieldProps & { rules: SudoRuleDraft[]; onRules: (rules: SudoRuleDraft[]) => void; pickAgent?: boolean; existingUsers?: boolean; idPrefix?: string },
) {
  const bind = binder(p);
  const prefix = p.idPrefix ?? 'target';
  const delivery = p.values.credentialDelivery;
  return (
    <>
      <div className="grid-2">
        {p.pickAgent ? <AgentPicker {...p} /> : null}
        <TextField
          id={`${prefix}-groups`}
          label="Local groups that may be granted"
          className="mono"
          placeholder="adm, docker"
          hint="Comma-separated; offered as group:<name>. They must exist on the host."
          {...bind('groups')}
        />
        {p.existingUsers ? (
          <p className="hint">Grants change the person’s own user on the host (chosen at their first request): nothing is created, no password is involved.</p>
        ) : (
          <SelectField id={`${prefix}-delivery`} label="Password delivery" hint="Of the temporary local account each grant creates." {...bind('credentialDelivery')}>
            <option value="reveal">Shown once in Timebox to the account’s owner</option>
            <option value="server-email">Emailed by Timebox once the account exists (tenant mail settings)</option>
            <option value="agent-email">Emailed by the agent from the host (its own mail settings)</option>
          </SelectField>
        )}
        {!p.existingUsers && delivery !== 'reveal' ? (
          <TextField
            id={`${prefix}-email-to`}
            label="Email to (optional)"
            type="email"
            hint={
              delivery === 'agent-email'
                ? 'The requester’s own address when empty. The agent’s agent.json needs SMTP settings, or grants are refused on the host.'
                : 'The requester’s own address when empty. The password is never shown in Timebox.'
            }
            {...bind('emailTo')}
          />
        ) : null}
      </div>
      <SudoRulesEditor rules={p.rules} errors={p.errors} onChange={p.onRules} idPrefix={`${prefix}-sudo`} />
    </>
  );
}
