/**
 * One gateway session: who, where, as whom, when, why (the request's reason and ticket), how it
 * ended and the recording's SHA-256; live, the terminal as it happens and a Terminate button;
 * ended, the playback beside the commands typed (a click seeks there).
 */
import { lazy, Suspense, useCallback, useEffect, useRef, useState } from 'react';
import { call } from '../../api';
import { FormError } from '../../components/Field';
import { LiveNotice } from '../../components/LiveNotice';
import { PageHeader } from '../../components/PageHeader';
import { useWorkspace } from '../../context';
import { formatDateSeconds } from '../../format';
import { Link } from '../../router';
import type { GatewaySession, Grant, SessionCommand } from '../../../../src/api/types.js';
import { endReasonText as sharedEndReasonText } from '../../../../src/api/session-end-reasons.js';
import type { LiveState } from './LiveTerminal';
import { formatOffset } from './offset';
import type { PlaybackControl } from './Playback';
import { TerminateDialog } from './TerminateDialog';

// The terminal and the player are large: each is loaded when it is first shown, not with the dashboard.
const LiveTerminal = lazy(() => import('./LiveTerminal').then((m) => ({ default: m.LiveTerminal })));
const Playback = lazy(() => import('./Playback').then((m) => ({ default: m.Playback })));
const loading = <p className="loading">Loading…</p>;

export const endReasonText = (r: string | null | undefined) => sharedEndReasonText(r) ?? '—';

export function SessionView(props: { id: string }) {
  const ws = useWorkspace();
  const [session, setSession] = useState<GatewaySession | null>(null);
  const [grant, setGrant] = useState<Grant | null>(null);
  const [commands, setCommands] = useState<SessionCommand[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState<LiveState>({ kind: 'connecting' });
  const [confirm, setConfirm] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const player = useRef<PlaybackControl | null>(null);
  const startAt = useRef(Number(new URLSearchParams(location.search).get('at') ?? '0') / 1000 || 0);

  const load = useCallback(async (): Promise<GatewaySession | null> => {
    try {
      const s = await call('getGatewaySession', { params: { tenant: ws.slug, id: props.id } });
      setSession(s);
      setError(null);
      if (!s.live) setCommands((await call('listGatewaySessionCommands', { params: { tenant: ws.slug, id: props.id } })).items);
      call('getGrant', { params: { tenant: ws.slug, grantId: s.grantId } }).then(setGrant, () => setGrant(null));
      return s;
    } catch (err) {
      setError((err as Error).message);
      return null;
    }
  }, [ws.slug, props.id]);

  useEffect(() => void load(), [load]);

  const onLiveState = useCallback(
    (s: LiveState) => {
      setLive(s);
      // A stream gone for good (a restart, a proxy) or an end without its reason: the row says whether and why it ended.
      const fromRow = (row: GatewaySession | null) => {
        if (row && !row.live) setNotice(`The session has ended: ${endReasonText(row.endReason)}.`);
      };
      if (s.kind === 'ended') {
        setNotice(`The session has ended: ${endReasonText(s.endReason)}.`);
        void load().then((row) => (s.endReason ? undefined : fromRow(row)));
      } else if (s.kind === 'lost') {
        void load().then(fromRow);
      }
    },
    [load],
  );

  if (!session) {
    return (
      <div>
        <PageHeader title="Session" />
        <FormError message={error} />
        {error ? null : <p className="loading">Loading…</p>}
        <p>
          <Link to={`/t/${ws.slug}/sessions`}>All sessions</Link>
        </p>
      </div>
    );
  }

  const isLive = session.live && live.kind !== 'ended';
  return (
    <div>
      <PageHeader title={`${session.account}@${session.targetName}`} intro={<Link to={`/t/${ws.slug}/sessions`}>All sessions</Link>}>
        {isLive ? (
          <button type="button" className="danger" onClick={() => setConfirm(true)} disabled={!!session.killRequestedAt}>
            {session.killRequestedAt ? 'Terminating…' : 'Terminate'}
          </button>
        ) : null}
      </PageHeader>
      <LiveNotice message={notice} />
      <FormError message={error} />
      <dl className="facts session-facts">
        <dt>Person</dt>
        <dd>{session.operatorEmail}</dd>
        <dt>Target, account</dt>
        <dd className="mono">
          {session.targetName}, {session.account}
        </dd>
        <dt>Reason</dt>
        <dd data-testid="session-reason">{grant?.reason ?? '—'}</dd>
        <dt>Ticket</dt>
        <dd>{grant?.ticket ?? '—'}</dd>
        <dt>Started</dt>
        <dd>{formatDateSeconds(session.startedAt)}</dd>
        <dt>Ended</dt>
        <dd data-testid="session-end">{session.live ? (isLive ? 'still running' : 'just now') : `${formatDateSeconds(session.endedAt)}: ${endReasonText(session.endReason)}`}</dd>
        {session.command ? (
          <>
            <dt>Command</dt>
            <dd className="mono">{session.command}</dd>
          </>
        ) : null}
        <dt>Recording SHA-256</dt>
        <dd className="mono hash">{session.recordingSha256 ?? (session.live ? 'when it ends' : '—')}</dd>
      </dl>

      {session.live ? (
        <section aria-labelledby="live-title">
          <h2 id="live-title">
            Live{' '}
            <span className={`badge ${live.kind === 'live' ? 'badge-live' : 'badge-disabled'}`} data-testid="live-state">
              {live.kind === 'live' ? 'watching' : live.kind === 'ended' ? 'ended' : live.kind === 'lost' ? 'connection lost' : 'connecting…'}
            </span>
          </h2>
          <p className="hint">Read-only: nothing you type here reaches the session. Your watching is recorded in the audit log.</p>
          <Suspense fallback={loading}>
            <LiveTerminal tenant={ws.slug} id={session.id} onState={onLiveState} />
          </Suspense>
        </section>
      ) : (
        <div className="session-playback">
          <section aria-labelledby="playback-title" className="playback-pane">
            <h2 id="playback-title">Playback</h2>
            <Suspense fallback={loading}>
              <Playback tenant={ws.slug} id={session.id} startAt={startAt.current} onReady={(c) => (player.current = c)} />
            </Suspense>
          </section>
          <section aria-labelledby="commands-title" className="commands-pane">
            <h2 id="commands-title">Commands typed</h2>
            {commands === null ? (
              <p className="loading">Loading…</p>
            ) : commands.length === 0 ? (
              <p className="empty">No command was entered at a shell prompt.</p>
            ) : (
              <ol className="command-list" data-testid="command-list">
                {commands.map((c) => (
                  <li key={c.ordinal}>
                    <button type="button" className="link-button" onClick={() => player.current?.seek(c.offsetMs / 1000)} title="Play from here">
                      <span className="offset">{formatOffset(c.offsetMs)}</span> <code>{c.text}</code>
                    </button>
                  </li>
                ))}
              </ol>
            )}
            <p className="hint">Lines entered at the prompt that the host echoed back; what was typed with echo off (passwords) is never listed.</p>
          </section>
        </div>
      )}

      {confirm ? (
        <TerminateDialog
          tenant={ws.slug}
          session={session}
          onClose={() => setConfirm(false)}
          onDone={() => {
            setConfirm(false);
            setNotice('Terminating: the gateway closes the session within a second.');
            void load();
          }}
        />
      ) : null}
    </div>
  );
}
