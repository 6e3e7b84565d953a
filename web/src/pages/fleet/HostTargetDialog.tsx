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
import type { Agent, CallArgs, CallResult } from '../../../../src/api/types.js';
import { ConfigFields } from '../targets/ConfigFields';
import { useTargetKinds } from '../targets/kinds';
import { useTargetDraft } from '../targets/useTargetDraft';

export function HostTargetDialog(props: { tenant: string; agent: Agent; onClose: () => void }) {
  const { agent } = props;
  // The fields of the linux-agent kind as the server declares them; the agent is this one.
  const { kinds, error: kindsError } = useTargetKinds();
  const form = useTargetDraft(kinds?.find((k) => k.kind === 'linux-agent') ?? null, { name: agent.name, config: { agentId: agent.id } });
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<CallResult<'addAgentTarget'> | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!form.check()) return;
    setBusy(true);
    try {
      const { agentId: _agent, ...config } = form.config();
      // The config comes from the kind's JSON Schema form; the server validates it against the contract.
      const body = { name: form.name.trim(), ...config } as CallArgs<'addAgentTarget'>['body'];
      setCreated(await call('addAgentTarget', { params: { tenant: props.tenant, agentId: agent.id }, body }));
    } catch (err) {
      // The agent is fixed here: a complaint about it is the form's.
      form.refused(err, ['agentId']);
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
        <FormError message={form.errors.form ?? kindsError} />
        <TextField
          id="host-target-name"
          label="Target name"
          hint="How people will see it, e.g. web-01."
          value={form.name}
          error={form.errors.name}
          onChange={(e) => form.changeName(e.target.value)}
        />
        <ConfigFields
          idPrefix="host"
          fields={form.fields}
          values={form.values}
          errors={form.errors}
          onChange={form.changeValue}
          onClearErrors={form.clearErrors}
          hidden={['agentId']}
        />
        <DialogActions onCancel={props.onClose} busy={busy} busyLabel="Creating and testing…" label="Create host target" />
      </form>
    </Dialog>
  );
}
