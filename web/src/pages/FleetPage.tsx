/**
 * "Agents": the Linux hosts enrolled in this tenant, how each is doing (kept current without a
 * reload), adding one with a one-time token, its host target, and revoking it.
 */
import { useState } from 'react';
import { FormError } from '../components/Field';
import { LiveNotice } from '../components/LiveNotice';
import { PageHeader } from '../components/PageHeader';
import { useWorkspace } from '../context';
import type { Agent } from '../../../src/api/types.js';
import { AddAgentDialog } from './fleet/AddAgentDialog';
import { STALE_AFTER_MS } from './fleet/agent-status';
import { AgentTable } from './fleet/AgentTable';
import { HostTargetDialog } from './fleet/HostTargetDialog';
import { RevokeDialog } from './fleet/RevokeDialog';
import { useFleet } from './fleet/useFleet';

type Open = { kind: 'add' } | { kind: 'target'; agent: Agent } | { kind: 'revoke'; agent: Agent } | null;

export function FleetPage() {
  const ws = useWorkspace();
  const { agents, error, reload, replace } = useFleet(ws.slug);
  const [open, setOpen] = useState<Open>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const manage = ws.can('targets.manage');

  const close = () => {
    setOpen(null);
    void reload();
  };

  return (
    <div>
      <PageHeader
        title="Agents"
        intro={`Linux hosts whose agent gives and takes away access there, even while Timebox is unreachable. Agents check in at least every 30 s; one silent for ${STALE_AFTER_MS / 60_000} minutes is stale.`}
      >
        {manage ? (
          <button
            type="button"
            className="primary"
            onClick={() => {
              setNotice(null);
              setOpen({ kind: 'add' });
            }}
          >
            Add agent
          </button>
        ) : null}
      </PageHeader>
      <LiveNotice message={notice} />
      <FormError message={error} />
      {agents === null ? (
        error ? null : <p className="loading">Loading…</p>
      ) : agents.length === 0 ? (
        <p className="empty">No agents yet. Add one, then run the two commands it shows on the host.</p>
      ) : (
        <AgentTable
          agents={agents}
          canManage={manage}
          onHostTarget={(agent) => {
            setNotice(null);
            setOpen({ kind: 'target', agent });
          }}
          onRevoke={(agent) => {
            setNotice(null);
            setOpen({ kind: 'revoke', agent });
          }}
        />
      )}
      {open?.kind === 'add' ? <AddAgentDialog tenant={ws.slug} onClose={close} /> : null}
      {open?.kind === 'target' ? <HostTargetDialog tenant={ws.slug} agent={open.agent} onClose={close} /> : null}
      {open?.kind === 'revoke' ? (
        <RevokeDialog
          tenant={ws.slug}
          agent={open.agent}
          onClose={() => setOpen(null)}
          onRevoked={(a) => {
            replace(a);
            setOpen(null);
            setNotice(`Revoked ${a.name}: it can no longer reach Timebox. Access it holds still ends on the host’s own schedule.`);
          }}
        />
      ) : null}
    </div>
  );
}
