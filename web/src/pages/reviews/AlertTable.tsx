/** Open alerts: problems that need a person (a revocation that keeps failing, break-glass, drift). */
import { formatDate } from '../../format';
import type { Alert, Grant } from '../../../../src/api/types.js';

const severityClass = (s: string) => (s === 'critical' || s === 'error' ? 'badge-denied' : s === 'warning' ? 'badge-waiting' : 'badge-disabled');

function subjectOf(a: Alert, g: Grant | undefined): string {
  if (!a.grantId) return 'Timebox';
  if (!g) return `grant ${a.grantId.slice(0, 8)}`;
  return `${g.operatorEmail} on ${g.targetName} (${g.entitlements.join(', ')})`;
}

export function AlertTable(props: { alerts: Alert[]; grants: Record<string, Grant> }) {
  return (
    <table className="table" aria-label="Open alerts">
      <thead>
        <tr>
          <th scope="col">Severity</th>
          <th scope="col">Subject</th>
          <th scope="col">What happened</th>
          <th scope="col">Raised</th>
        </tr>
      </thead>
      <tbody>
        {props.alerts.map((a) => (
          <tr key={a.id} data-alert={a.id}>
            <td>
              <span className={`badge ${severityClass(a.severity)}`}>{a.severity}</span>
            </td>
            <td>{subjectOf(a, a.grantId ? props.grants[a.grantId] : undefined)}</td>
            <td className="wrap-cell">{a.message}</td>
            <td className="nowrap">{formatDate(a.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
