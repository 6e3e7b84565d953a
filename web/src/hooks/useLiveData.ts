/**
 * Server data kept current without a reload: loaded on mount, reloaded (debounced) on every event
 * of the tenant's live stream and after each reconnection, and refreshed on a timer for what the
 * stream cannot announce. An answer that arrives after a newer load started is dropped, so a slow
 * response never overwrites a fresher one.
 */
import { useCallback, useEffect, useRef, useState, type Dispatch, type SetStateAction } from 'react';
import { messageOf } from '../api';
import { useLiveEvents } from '../live';

/** Stream events come in bursts (one per grant changed): one reload after the burst. */
const DEBOUNCE_MS = 250;

export interface Refresh {
  everyMs: number;
  /** Poll only while the page is visible, and load at once when it becomes visible again. */
  whileVisible?: boolean;
}

export interface LiveData<T> {
  /** null until the first load succeeds. */
  data: T | null;
  error: string | null;
  /** Changes the data at once (an item decided, an agent revoked); the next load confirms it. */
  update: Dispatch<SetStateAction<T | null>>;
  load: () => Promise<void>;
  /** A load shortly, merged with any other asked for meanwhile. */
  reloadSoon: () => void;
}

/** `request` should be stable (useCallback): a new one loads again. */
export function useLiveData<T>(request: () => Promise<T>, refresh: Refresh): LiveData<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const seq = useRef(0);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const next = await request();
      if (mine !== seq.current) return;
      setData(next);
      setError(null);
    } catch (err) {
      if (mine === seq.current) setError(messageOf(err));
    }
  }, [request]);

  const reloadSoon = useCallback(() => {
    clearTimeout(pending.current);
    pending.current = setTimeout(() => void load(), DEBOUNCE_MS);
  }, [load]);

  const { everyMs, whileVisible = false } = refresh;
  useEffect(() => {
    void load();
    let timer: ReturnType<typeof setInterval> | undefined;
    const schedule = () => {
      clearInterval(timer);
      timer = !whileVisible || document.visibilityState === 'visible' ? setInterval(() => void load(), everyMs) : undefined;
    };
    const onVisibility = () => {
      if (document.visibilityState === 'visible') void load();
      schedule();
    };
    schedule();
    if (whileVisible) document.addEventListener('visibilitychange', onVisibility);
    return () => {
      clearInterval(timer);
      clearTimeout(pending.current);
      if (whileVisible) document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [load, everyMs, whileVisible]);

  useLiveEvents(() => reloadSoon());

  return { data, error, update: setData, load, reloadSoon };
}
