/** One request or extension waiting for approval: what is asked, where it stands, and the choices. */
import { formatDate, formatDuration } from '../../format';
import type { InboxItem } from '../../../../src/api/types.js';

export type DecisionKind = 'approve' | 'shorten' | 'deny';

const decided = (d: string) => (d === 'approve' ? 'approved' : d === 'deny' ? 'denied' : d);

export function ApprovalCard(props: { item: InboxItem; onDecide: (kind: DecisionKind) => void }) {
  const { item } = props;
  const g = item.grant;
  const ext = item.kind === 'extension';
  const titleId = `approval-${ext ? item.extensionId : g.id}`;
  const noteId = `${titleId}-note`;
  const blocked = item.cannotDecide;
  return (
    <article className="card approval" aria-labelledby={titleId} data-grant={g.id}>
      <header className="approval-head">
        <h2 id={titleId}>
          <span className={`kind-tag ${ext ? 'kind-ext' : ''}`}>{ext ? 'Extension' : 'Request'}</span> {g.operatorEmail}
          {ext ? ` asks for ${formatDuration(item.extensionSeconds ?? 0)} more on ` : ' asks for access to '}
          {g.targetName}
        </h2>
        <p className="approval-progress" data-testid="approval-progress">
          Level {item.level} of {item.levels} · {item.approvals} of {item.quorum} approval{item.quorum === 1 ? '' : 's'} at this level
        </p>
      </header>
      <dl className="facts approval-facts">
        <dt>Groups / roles</dt>
        <dd className="mono">{g.entitlements.join(', ')}</dd>
        <dt>{ext ? 'Granted for' : 'Duration'}</dt>
        <dd>{formatDuration(g.durationSeconds)}</dd>
        {ext ? (
          <>
            <dt>Ends now at</dt>
            <dd>{formatDate(g.expiresAt)}</dd>
          </>
        ) : (
          <>
            <dt>Start</dt>
            <dd>{g.requestedStartAt ? formatDate(g.requestedStartAt) : 'as soon as approved'}</dd>
          </>
        )}
        <dt>Account</dt>
        <dd className="mono">{g.username}</dd>
        {g.ticket ? (
          <>
            <dt>Ticket</dt>
            <dd className="mono">{g.ticket}</dd>
          </>
        ) : null}
        <dt>Reason</dt>
        <dd className="reason">{ext ? item.extensionReason : g.reason}</dd>
        {ext ? (
          <>
            <dt>First reason</dt>
            <dd className="reason">{g.reason}</dd>
          </>
        ) : null}
        <dt>Asked</dt>
        <dd>{formatDate(g.createdAt)}</dd>
        <dt>Already acted</dt>
        <dd>
          {item.acted.length === 0 ? (
            'nobody yet'
          ) : (
            <ul className="acted">
              {item.acted.map((a) => (
                <li key={`${a.approverId}-${a.level}`}>
                  {a.approverEmail} <strong>{decided(a.decision)}</strong> at level {a.level}, {formatDate(a.at)}
                </li>
              ))}
            </ul>
          )}
        </dd>
      </dl>
      <div className="approval-actions">
        <button type="button" className="primary" disabled={!!blocked} aria-describedby={blocked ? noteId : undefined} onClick={() => props.onDecide('approve')}>
          Approve
        </button>
        {ext ? null : (
          <button type="button" disabled={!!blocked} aria-describedby={blocked ? noteId : undefined} onClick={() => props.onDecide('shorten')}>
            Shorten…
          </button>
        )}
        <button type="button" className="danger-outline" disabled={!!blocked} aria-describedby={blocked ? noteId : undefined} onClick={() => props.onDecide('deny')}>
          Deny…
        </button>
        {blocked ? (
          <p className="hint blocked" id={noteId}>
            You cannot decide: {blocked}.
          </p>
        ) : null}
      </div>
    </article>
  );
}
