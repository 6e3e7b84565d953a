/**
 * "Create host target" for one agent (POST …/agents/:id/target): a name, the sudo rules and groups
 * it offers and how passwords reach people; then the connection test and a link to the target.
 */
import { useState, type FormEvent } from 'react';
import { call } from '../../api';
import { CheckResult } from '../../components/CheckResult';
import { Dialog } from '../../components/Dialog';
import { DialogActions, DialogDone } from '../../components/DialogActions';
import { FormError, TextField } from '../../components/Field';
import { Link } from '../../router';
import type { Agent, CallResult } from '../../../../src/api/types.js';
import { LinuxAgentFields } from '../targets/LinuxAgentFields';
import { configOf, fieldOfPath } from '../targets/target-kinds';
import { useTargetDraft } from '../targets/useTargetDraft';

export function HostTargetDialog(props: { tenant: string; agent: Agent; onClose: () => void }) {
  const { agent } = props;
  const form = useTargetDraft('linux-agent', { name: agent.name, values: { agentId: agent.id } });
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<CallResult<'addAgentTarget'> | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!form.check()) return;
    setBusy(true);
    try {
      const { agentId: _agent, ...config } = configOf('linux-agent', form.draft);
      setCreated(await call('addAgentTarget', { params: { tenant: props.tenant, agentId: agent.id }, body: { name: form.name.trim(), ...config } }));
    } catch (err) {
      // The agent is fixed here: a complaint about it is the form's.
      form.refused(err, (path) => (path[0] === 'agentId' ? null : fieldOfPath('linux-agent', form.draft, path)));
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
        <DialogDone onClose={props.onClose} />
      </Dialog>
    );
  }

  return (
    <Dialog title={`Host target for ${agent.name}`} onClose={props.onClose} wide>
      <form ref={form.formRef} onSubmit={submit} noValidate>
        <p className="hint dialog-intro">
          Grants on it give a temporary local account on {agent.hostname} (administrators, power-users or users), plus any groups and one sudo rule
          listed here.
        </p>
        <FormError message={form.errors.form} />
        <TextField
          id="host-target-name"
          label="Target name"
          hint="How people will see it, e.g. web-01."
          value={form.name}
          error={form.errors.name}
          onChange={(e) => form.changeName(e.target.value)}
        />
        <LinuxAgentFields
          idPrefix="host"
          values={form.draft.values}
          errors={form.errors}
          onChange={form.changeValue}
          rules={form.draft.sudoRules}
          onRules={form.changeRules}
        />
        <DialogActions onCancel={props.onClose} busy={busy} busyLabel="Creating and testing…" label="Create host target" />
      </form>
    </Dialog>
  );
}
