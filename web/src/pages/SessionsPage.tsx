/**
 * "Sessions": what people do through the SSH gateway. Live sessions (kept current), recent ones,
 * and a search of the commands typed across sessions; one session opens to watch it live or play
 * it back beside its commands. Admins and auditors.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { call } from '../api';
import { FormError } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { useWorkspace } from '../context';
import { formatDate } from '../format';
import { Link, usePath } from '../router';
import type { CommandHit, GatewaySession } from '../../../src/api/types.js';
import { formatOffset } from './sessions/offset';
import { SessionView } from './sessions/SessionView';

const SESSION_PATH = /\/sessions\/([0-9a-f-]{36})$/;
const REFRESH_MS = 3000;

export function SessionsPage() {
  const path = usePath();
  const id = SESSION_PATH.exec(path)?.[1];
  return id ? <SessionView key={id} id={id} /> : <SessionList />;
}

function SessionTable(props: { label: string; sessions: GatewaySession[]; slug: string; testId: string }) {
  return (
    <table className="table sessions-table" aria-label={props.label} data-testid={props.testId}>
      <thead>
        <tr>
          <th scope="col">Person</th>
          <th scope="col">Target and account</th>
          <th scope="col">Started</th>
          <th scope="col">State</th>
        </tr>
      </thead>
      <tbody>
        {props.sessions.map((s) => (
          <tr key={s.id}>
            <th scope="row">
              <Link to={`/t/${props.slug}/sessions/${s.id}`}>{s.operatorEmail}</Link>
            </th>
            <td>
              <span className="mono">
                {s.account}@{s.targetName}
              </span>
              {s.command ? <div className="hint mono">{s.command}</div> : null}
            </td>
            <td className="nowrap">{formatDate(s.startedAt)}</td>
            <td>{s.live ? <span className="badge badge-live">Live</span> : <span className="hint">ended {formatDate(s.endedAt)}</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SessionList() {
  const ws = useWorkspace();
  const [sessions, setSessions] = useState<GatewaySession[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setSessions((await call('listGatewaySessions', { params: { tenant: ws.slug }, query: { limit: 50 } })).items);
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  }, [ws.slug]);

  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(t);
  }, [load]);

  const live = sessions?.filter((s) => s.live) ?? [];
  const ended = sessions?.filter((s) => !s.live) ?? [];
  return (
    <div>
      <PageHeader title="Sessions" intro="Shells and commands people run on hosts through the SSH gateway, recorded. Watch a live one, end it, or play back one that ended beside the commands typed in it." />
      <FormError message={error} />
      <CommandSearch />
      <h2>Live now</h2>
      {sessions === null ? (
        error ? null : <p className="loading">Loading…</p>
      ) : live.length === 0 ? (
        <p className="empty" data-testid="no-live-sessions">
          Nobody is connected through the gateway.
        </p>
      ) : (
        <SessionTable label="Live sessions" sessions={live} slug={ws.slug} testId="live-sessions" />
      )}
      <h2>Recent</h2>
      {sessions === null ? null : ended.length === 0 ? (
        <p className="empty">No session has ended yet.</p>
      ) : (
        <SessionTable label="Recent sessions" sessions={ended} slug={ws.slug} testId="recent-sessions" />
      )}
    </div>
  );
}

function CommandSearch() {
  const ws = useWorkspace();
  const [text, setText] = useState('');
  const [hits, setHits] = useState<CommandHit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const search = async (e: FormEvent) => {
    e.preventDefault();
    if (text.trim().length < 2) return setError('Type at least 2 characters to search.');
    setBusy(true);
    try {
      setHits((await call('searchGatewayCommands', { params: { tenant: ws.slug }, query: { q: text.trim(), limit: 50 } })).items);
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card command-search" aria-labelledby="command-search-title">
      <h2 id="command-search-title">Which sessions ran…</h2>
      <form className="inline wrap" role="search" onSubmit={search}>
        <label htmlFor="command-search" className="sr-only">
          Command text
        </label>
        <input id="command-search" type="search" className="mono" placeholder="systemctl restart" value={text} onChange={(e) => setText(e.target.value)} aria-invalid={error ? true : undefined} />
        <button type="submit" disabled={busy}>
          {busy ? 'Searching…' : 'Search commands'}
        </button>
      </form>
      <FormError message={error} />
      {hits === null ? null : hits.length === 0 ? (
        <p className="empty" role="status">
          No command typed in a session contains “{text.trim()}”.
        </p>
      ) : (
        <ul className="command-hits" aria-label="Commands found" data-testid="command-hits">
          {hits.map((h) => (
            <li key={`${h.sessionId}-${h.ordinal}`}>
              <code>{h.text}</code>
              <span className="hint">
                {h.operatorEmail} as {h.account}@{h.targetName}, {formatDate(h.at)}{' '}
                <Link to={`/t/${ws.slug}/sessions/${h.sessionId}?at=${h.offsetMs}`}>
                  {h.sessionLive ? 'watch the session' : `play from ${formatOffset(h.offsetMs)}`}
                </Link>
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
