/** Revoking an agent, after saying what that does (and does not do) to the host. */
import { useState } from 'react';
import { call, messageOf } from '../../api';
import { Dialog } from '../../components/Dialog';
import { FormError } from '../../components/Field';
import type { Agent } from '../../../../src/api/types.js';

export function RevokeDialog(props: { tenant: string; agent: Agent; onClose: () => void; onRevoked: (a: Agent) => void }) {
  const { agent } = props;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const revoke = async () => {
    setBusy(true);
    setError(null);
    try {
      props.onRevoked(await call('revokeAgent', { params: { tenant: props.tenant, agentId: agent.id } }));
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };

  return (
    <Dialog title={`Revoke agent ${agent.name}?`} onClose={props.onClose}>
      <div className="dialog-intro">
        <p>
          The agent on <strong>{agent.hostname}</strong> is locked out at once: every request it makes is refused, including the one it is waiting on,
          and it no longer receives its desired state. No new access can be given on this host, and its host target stops working.
        </p>
        <p>
          Access it already holds is still ended on time by the agent’s own schedule on the host. Revoking cannot be undone: to use the host again,
          enrol it afresh with a new token and a new state directory.
        </p>
      </div>
      <FormError message={error} />
      <div className="dialog-actions">
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button type="button" className="danger" disabled={busy} onClick={revoke}>
          {busy ? 'Revoking…' : 'Revoke agent'}
        </button>
      </div>
    </Dialog>
  );
}
