/**
 * A live session in xterm.js, read-only: what the recording holds so far, then the output as it
 * happens (server-sent events relayed from the gateway). Keystrokes are never sent anywhere.
 */
import { useEffect, useRef, useState } from 'react';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { pathOf } from '../../../../src/api/endpoint.js';
import { endpoints } from '../../../../src/api/endpoints.js';
import { adoptTerminalStyles } from './adopt-styles';

export type LiveState = { kind: 'connecting' } | { kind: 'live' } | { kind: 'ended'; endReason: string | null } | { kind: 'lost' };

export function LiveTerminal(props: { tenant: string; id: string; onState: (s: LiveState) => void }) {
  const box = useRef<HTMLDivElement>(null);
  const onState = useRef(props.onState);
  onState.current = props.onState;
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const undoStyles = adoptTerminalStyles();
    const term = new Terminal({ disableStdin: true, cursorBlink: false, convertEol: false, fontSize: 13, scrollback: 5000, cols: 80, rows: 24 });
    term.open(el);
    onState.current({ kind: 'connecting' });
    const es = new EventSource(pathOf(endpoints.watchGatewaySession.path, { tenant: props.tenant, id: props.id }));
    let finished = false;
    const data = <T,>(m: Event) => JSON.parse((m as MessageEvent<string>).data) as T;
    es.addEventListener('header', (m) => {
      const h = data<{ width: number; height: number }>(m);
      term.reset();
      // A client without a terminal size (0) gets the usual 80 × 24.
      term.resize(h.width >= 20 ? h.width : 80, h.height >= 5 ? h.height : 24);
      onState.current({ kind: 'live' });
    });
    es.addEventListener('out', (m) => term.write(data<{ data: string }>(m).data));
    es.addEventListener('resize', (m) => {
      const r = data<{ cols: number; rows: number }>(m);
      if (r.cols > 0 && r.rows > 0) term.resize(r.cols, r.rows);
    });
    es.addEventListener('end', (m) => {
      finished = true;
      es.close();
      onState.current({ kind: 'ended', endReason: data<{ endReason: string | null }>(m).endReason });
    });
    es.addEventListener('resync', () => {
      // Output was lost on the way: start over from the recording.
      finished = true;
      es.close();
      setAttempt((a) => a + 1);
    });
    es.onerror = () => {
      if (finished) return;
      if (es.readyState === EventSource.CLOSED) onState.current({ kind: 'lost' });
      else onState.current({ kind: 'connecting' });
    };
    return () => {
      finished = true;
      es.close();
      term.dispose();
      undoStyles();
    };
  }, [props.tenant, props.id, attempt]);

  return <div className="terminal" ref={box} data-testid="live-terminal" aria-label="Live terminal output (read-only)" role="region" />;
}
