/** The fleet as a table: who, where, which version, last seen (ticking), health and status. */
import { formatDate, formatDateSeconds } from '../../format';
import { useServerNow } from '../../live';
import type { Agent } from '../../../../src/api/types.js';
import { agentStatus, ago, healthLines, statusLabels, type AgentStatus } from './agent-status';

const badgeClass: Record<AgentStatus, string> = { online: 'badge-active', stale: 'badge-waiting', never: 'badge-disabled', revoked: 'badge-denied' };

export function AgentTable(props: { agents: Agent[]; canManage: boolean; onHostTarget: (a: Agent) => void; onRevoke: (a: Agent) => void }) {
  const now = useServerNow();
  return (
    <table className="table fleet" aria-label="Agents">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Host name</th>
          <th scope="col">Version</th>
          <th scope="col">Last seen</th>
          <th scope="col">Health</th>
          <th scope="col">Status</th>
          {props.canManage ? (
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          ) : null}
        </tr>
      </thead>
      <tbody>
        {props.agents.map((a) => {
          const status = agentStatus(a, now);
          return (
            <tr key={a.id} data-agent={a.id}>
              <th scope="row">
                {a.name}
                <div className="hint">enrolled {formatDate(a.enrolledAt)}</div>
              </th>
              <td className="mono">{a.hostname}</td>
              <td className="mono">{a.version}</td>
              <td className="nowrap" data-testid="last-seen">
                {a.lastSeenAt ? <span title={formatDateSeconds(a.lastSeenAt)}>{ago(now - Date.parse(a.lastSeenAt))}</span> : 'never'}
              </td>
              <td data-testid="agent-health">
                <ul className="health">
                  {healthLines(a).map((l) => (
                    <li key={l.text} className={`health-${l.tone}`}>
                      {l.text}
                    </li>
                  ))}
                </ul>
              </td>
              <td data-testid="agent-status">
                <span className={`badge ${badgeClass[status]}`}>{statusLabels[status]}</span>
                {a.revokedAt ? <div className="hint">{formatDate(a.revokedAt)}</div> : null}
              </td>
              {props.canManage ? (
                <td className="actions">
                  {a.revoked ? null : (
                    <div className="inline wrap">
                      <button type="button" onClick={() => props.onHostTarget(a)} aria-label={`Create host target for ${a.name}`}>
                        Create host target
                      </button>
                      <button type="button" className="danger-outline" onClick={() => props.onRevoke(a)} aria-label={`Revoke ${a.name}`}>
                        Revoke…
                      </button>
                    </div>
                  )}
                </td>
              ) : null}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
