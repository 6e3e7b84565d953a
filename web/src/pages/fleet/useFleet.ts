/**
 * The fleet, kept current. Heartbeats are not on the event stream, so the list is polled every
 * 10 s while the page is visible (and at once when it becomes visible again); grant changes on the
 * stream, which move agents' desired versions, and reconnections reload it too.
 */
import { useCallback } from 'react';
import { allPages } from '../../api';
import { useLiveData } from '../../hooks/useLiveData';
import type { Agent } from '../../../../src/api/types.js';

export const FLEET_POLL_MS = 10_000;
const POLL = { everyMs: FLEET_POLL_MS, whileVisible: true };

export function useFleet(tenant: string) {
  const request = useCallback(() => allPages('listAgents', { params: { tenant } }), [tenant]);
  const { data: agents, error, update, load } = useLiveData(request, POLL);

  /** Puts the server's answer for one agent in place (after a revocation), without waiting for the next poll. */
  const replace = useCallback((agent: Agent) => update((cur) => cur?.map((a) => (a.id === agent.id ? agent : a)) ?? cur), [update]);

  return { agents, error, reload: load, replace };
}
