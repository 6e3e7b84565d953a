/**
 * The fleet, kept current. Heartbeats are not on the event stream, so the list is polled every
 * 10 s while the page is visible (and at once when it becomes visible again); grant changes on the
 * stream, which move agents' desired versions, and reconnections reload it too.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { allPages, messageOf, tenantPath } from '../../api';
import { useLiveEvents } from '../../live';
import type { Agent } from '../../types';

export const FLEET_POLL_MS = 10_000;

export function useFleet(tenant: string) {
  const [agents, setAgents] = useState<Agent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const seq = useRef(0);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const list = await allPages<Agent>(tenantPath(tenant, '/agents'), {});
      if (mine !== seq.current) return;
      setAgents(list);
      setError(null);
    } catch (err) {
      if (mine === seq.current) setError(messageOf(err));
    }
  }, [tenant]);

  useEffect(() => {
    void load();
    let timer: ReturnType<typeof setInterval> | undefined;
    const poll = () => {
      clearInterval(timer);
      timer = document.visibilityState === 'visible' ? setInterval(() => void load(), FLEET_POLL_MS) : undefined;
    };
    const onVisibility = () => {
      if (document.visibilityState === 'visible') void load();
      poll();
    };
    poll();
    document.addEventListener('visibilitychange', onVisibility);
    return () => {
      clearInterval(timer);
      clearTimeout(pending.current);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [load]);

  useLiveEvents(() => {
    clearTimeout(pending.current);
    pending.current = setTimeout(() => void load(), 250);
  });

  /** Puts the server's answer for one agent in place (after a revocation), without waiting for the next poll. */
  const replace = useCallback((agent: Agent) => setAgents((cur) => cur?.map((a) => (a.id === agent.id ? agent : a)) ?? cur), []);

  return { agents, error, reload: load, replace };
}
