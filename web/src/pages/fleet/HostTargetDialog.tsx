/**
 * "Create host target" for one agent (POST …/agents/:id/target): a name, the sudo rules and groups
 * it offers and how passwords reach people; then the connection test and a link to the target.
 */
import { useRef, useState, type FormEvent } from 'react';
import { api, tenantPath } from '../../api';
import { CheckResult } from '../../components/CheckResult';
import { Dialog } from '../../components/Dialog';
import { FormError, TextField } from '../../components/Field';
import { focusFirstInvalid } from '../../forms';
import { Link } from '../../router';
import type { Agent, CheckReport, Target } from '../../types';
import { placeConfigErrors } from '../targets/config-errors';
import * as host from '../targets/linux-agent-kind';
import { LinuxAgentFields } from '../targets/LinuxAgentFields';
import { targetNameProblem, type DraftErrors } from '../targets/target-kinds';

export function HostTargetDialog(props: { tenant: string; agent: Agent; onClose: () => void }) {
  const { agent } = props;
  const formRef = useRef<HTMLFormElement>(null);
  const [name, setName] = useState(agent.name);
  const [values, setValues] = useState({ ...host.initialValues, agentId: agent.id });
  const [rules, setRules] = useState<host.SudoRuleDraft[]>([]);
  const [errors, setErrors] = useState<DraftErrors>({});
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<{ target: Target; check: CheckReport } | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found = host.configProblems(values, rules);
    const nameProblem = targetNameProblem(name);
    if (nameProblem) found.name = nameProblem;
    setErrors(found);
    if (Object.keys(found).length) return focusFirstInvalid(formRef.current);
    setBusy(true);
    try {
      const { agentId: _agent, ...config } = host.configOf(values, rules);
      setCreated(await api.post<{ target: Target; check: CheckReport }>(tenantPath(props.tenant, `/agents/${agent.id}/target`), { name: name.trim(), ...config }));
    } catch (err) {
      // The agent is fixed here: a complaint about it is the form's.
      setErrors(placeConfigErrors(err, (path) => (path[0] === 'agentId' ? null : host.fieldOfPath(rules, path))));
      focusFirstInvalid(formRef.current);
    } finally {
      setBusy(false);
    }
  };

  if (created) {
    return (
      <Dialog title={`Host target ${created.target.name} created`} onClose={props.onClose} wide>
        <CheckResult report={created.check} title={`Connection test of ${created.target.name}`} />
        <p>
          People can ask for access to {agent.hostname} once a policy covers the target.{' '}
          <Link to={`/t/${props.tenant}/targets#target-${created.target.id}`}>Open {created.target.name} in Targets</Link>
        </p>
        <div className="dialog-actions">
          <button type="button" className="primary" onClick={props.onClose}>
            Done
          </button>
        </div>
      </Dialog>
    );
  }

  return (
    <Dialog title={`Host target for ${agent.name}`} onClose={props.onClose} wide>
      <form ref={formRef} onSubmit={submit} noValidate>
        <p className="hint dialog-intro">
          Grants on it give a temporary local account on {agent.hostname} (administrators, power-users or users), plus any groups and one sudo rule
          listed here.
        </p>
        <FormError message={errors.form} />
        <TextField
          id="host-target-name"
          label="Target name"
          hint="How people will see it, e.g. web-01."
          value={name}
          error={errors.name}
          onChange={(e) => {
            setName(e.target.value);
            setErrors((x) => ({ ...x, name: '' }));
          }}
        />
        <LinuxAgentFields
          idPrefix="host"
          values={values}
          errors={errors}
          onChange={(field, value) => {
            setValues((cur) => ({ ...cur, [field]: value }));
            setErrors((x) => ({ ...x, [field]: '' }));
          }}
          rules={rules}
          onRules={(next) => {
            setRules(next);
            setErrors((x) => Object.fromEntries(Object.entries(x).filter(([k]) => !k.startsWith('sudoRules'))));
          }}
        />
        <div className="dialog-actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating and testing…' : 'Create host target'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
