/** "Requests": my grants, newest first, with their live state. */
import { useCallback, useEffect, useRef, useState } from 'react';
import { call, messageOf } from '../api';
import { FormError } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { GrantStatus, statusOfGrant } from '../components/Status';
import { useWorkspace } from '../context';
import { formatDate, formatDuration } from '../format';
import { useLiveEvents } from '../live';
import { useApprovalProgress } from '../hooks/useApprovalProgress';
import type { Grant } from '../../../src/api/types.js';

export function RequestsPage() {
  const ws = useWorkspace();
  const [grants, setGrants] = useState<Grant[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const progress = useApprovalProgress(grants ?? []);

  const load = useCallback(() => {
    call('listGrants', { params: { tenant: ws.slug }, query: { mine: 'true', limit: 100 } }).then(
      (p) => {
        setGrants(p.items);
        setError(null);
      },
      (err: unknown) => setError(messageOf(err)),
    );
  }, [ws.slug]);
  useEffect(load, [load]);

  // A change is shown at once; a reload shortly after brings what the event does not carry
  // (the denial's reason, the shortened duration, new requests).
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(pending.current), []);
  useLiveEvents((e) => {
    clearTimeout(pending.current);
    pending.current = setTimeout(load, e.kind === 'resync' ? 0 : 250);
    if (e.kind !== 'grant') return;
    const c = e.grant;
    setGrants((cur) => cur?.map((g) => (g.id === c.id ? { ...g, state: c.state, expiresAt: c.expiresAt, lastError: c.lastError } : g)) ?? cur);
  });

  return (
    <div>
      <PageHeader title="Requests" intro="Your requests for access and what became of them." />
      <FormError message={error} />
      {grants === null ? (
        error ? null : <p className="loading">Loading…</p>
      ) : grants.length === 0 ? (
        <p className="empty">You have not requested any access yet.</p>
      ) : (
        <table className="table" aria-label="My requests">
          <thead>
            <tr>
              <th scope="col">Requested</th>
              <th scope="col">Target</th>
              <th scope="col">Account</th>
              <th scope="col">Groups / roles</th>
              <th scope="col">Duration</th>
              <th scope="col">Status</th>
              <th scope="col">Ended</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {grants.map((g) => (
              <tr key={g.id} data-grant={g.id}>
                <td className="nowrap">{formatDate(g.createdAt)}</td>
                <td className="nowrap">{g.targetName}</td>
                <td className="mono">{g.username}</td>
                <td className="mono">{g.entitlements.join(', ')}</td>
                <td>{formatDuration(g.durationSeconds)}</td>
                <td data-testid="request-status">
                  <GrantStatus status={statusOfGrant(g.state, g.endReason)} grant={g} progress={progress[g.id]} />
                </td>
                <td>{g.revokedAt ? `${formatDate(g.revokedAt)}${g.endReason ? ` (${g.endReason})` : ''}` : '—'}</td>
                <td className="reason">{g.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
