/**
 * Live updates: one server-sent event stream per open tenant. Pages subscribe to grant changes
 * (and to "resync" after every (re)connection, when they should reload once), and countdowns use
 * the server's clock as announced by the stream.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { pathOf } from '../../src/api/endpoint.js';
import { endpoints } from '../../src/api/endpoints.js';
import { call, notifySessionEnded } from './api';
import type { GrantState } from '../../src/api/types.js';

export interface GrantChange {
  id: string;
  state: GrantState;
  expiresAt: string | null;
  lastError: string | null;
}

export type LiveEvent = { kind: 'grant'; grant: GrantChange } | { kind: 'resync' };
export type LiveStatus = 'connecting' | 'live' | 'offline';

interface Live {
  subscribe(fn: (e: LiveEvent) => void): () => void;
  skewMs: number;
  status: LiveStatus;
}

const LiveContext = createContext<Live>({ subscribe: () => () => {}, skewMs: 0, status: 'offline' });

export function LiveProvider(props: { tenant: string; children: ReactNode }) {
  const listeners = useRef(new Set<(e: LiveEvent) => void>());
  const [skewMs, setSkew] = useState(0);
  const [status, setStatus] = useState<LiveStatus>('connecting');

  useEffect(() => {
    let source: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const emit = (e: LiveEvent) => listeners.current.forEach((fn) => fn(e));
    const reconnectLater = () => {
      if (!stopped) retry = setTimeout(connect, 3000);
    };
    function connect() {
      const es = new EventSource(pathOf(endpoints.events.path, { tenant: props.tenant }));
      source = es;
      es.addEventListener('hello', (m) => {
        const now = Date.parse((JSON.parse((m as MessageEvent<string>).data) as { now: string }).now);
        if (Number.isFinite(now)) setSkew(now - Date.now());
        setStatus('live');
        emit({ kind: 'resync' });
      });
      es.addEventListener('grant', (m) => {
        const change = JSON.parse((m as MessageEvent<string>).data) as GrantChange & { now?: string };
        const now = Date.parse(change.now ?? '');
        if (Number.isFinite(now)) setSkew(now - Date.now());
        emit({ kind: 'grant', grant: change });
      });
      es.addEventListener('session', () => {
        stopped = true;
        es.close();
        notifySessionEnded();
      });
      es.onerror = () => {
        if (es.readyState !== EventSource.CLOSED) {
          setStatus('connecting'); // the browser reconnects by itself
          return;
        }
        // Refused (e.g. 401): ask the API why; a 401 there signs the person out.
        es.close();
        setStatus('offline');
        call('me').then(reconnectLater, (err: unknown) => {
          if ((err as { status?: number }).status !== 401) reconnectLater();
        });
      };
    }
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      source?.close();
    };
  }, [props.tenant]);

  const subscribe = useCallback((fn: (e: LiveEvent) => void) => {
    listeners.current.add(fn);
    return () => {
      listeners.current.delete(fn);
    };
  }, []);
  const value = useMemo<Live>(() => ({ subscribe, skewMs, status }), [subscribe, skewMs, status]);
  return <LiveContext.Provider value={value}>{props.children}</LiveContext.Provider>;
}

/** Calls `fn` for every live event while the component is mounted. */
export function useLiveEvents(fn: (e: LiveEvent) => void): void {
  const live = useContext(LiveContext);
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => live.subscribe((e) => latest.current(e)), [live.subscribe]);
}

export const useLiveStatus = (): LiveStatus => useContext(LiveContext).status;

/** The server's "now" in milliseconds, updated every second. */
export function useServerNow(): number {
  const { skewMs } = useContext(LiveContext);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return now + skewMs;
}

/** A function giving the server's "now" in milliseconds, without re-rendering every second. */
export function useServerClock(): () => number {
  const { skewMs } = useContext(LiveContext);
  return useCallback(() => Date.now() + skewMs, [skewMs]);
}
