/** "How to connect" under a revealed credential: where, the command to paste, and when it ends. */
import { CopyField } from '../pages/fleet/CopyField';
import { formatDateWithZone } from '../format';
import type { ConnectInfo } from '../../../src/api/types.js';

/** `showEnd`: false where the end is already shown next to the credential. */
export function ConnectDetails({ connect, showEnd = true }: { connect: ConnectInfo; showEnd?: boolean }) {
  const rows: [string, string][] = [];
  if (connect.domain) rows.push(['Domain', connect.domain]);
  if (connect.host) rows.push(['Host', connect.host]);
  if (connect.port !== null) rows.push(['Port', String(connect.port)]);
  if (connect.database) rows.push(['Database', connect.database]);
  // Tokens and certificates say how to use them elsewhere; nothing to add but the end.
  if (!rows.length && !connect.command && !showEnd) return null;
  return (
    <section className="connect" aria-labelledby="connect-title" data-testid="credential-connect">
      <h3 id="connect-title">How to connect</h3>
      {rows.length ? (
        <dl className="facts">
          {rows.map(([term, value]) => (
            <div key={term} className="fact">
              <dt>{term}</dt>
              <dd className="mono">{value}</dd>
            </div>
          ))}
        </dl>
      ) : null}
      {/* Shown whole (it wraps): a command cut off at the edge would be copied blind. */}
      {connect.command ? <CopyField id="connect-command" label="Command" value={connect.command} multiline /> : null}
      {showEnd ? (
        <p className="connect-ends" data-testid="connect-ends">
          Access ends <strong>{formatDateWithZone(connect.endsAt)}</strong>.
        </p>
      ) : null}
    </section>
  );
}
