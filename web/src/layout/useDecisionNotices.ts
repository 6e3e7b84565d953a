/**
 * Notices for the requester when a request of theirs is decided, on whatever page they are: the
 * requests waiting for approval are remembered, and after every live event (and reconnection)
 * the list is read again; one that left "requested" since is announced as approved, denied, or
 * ended otherwise, with the approver's reason when there is one.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { call } from '../api';
import { formatDateWithZone, formatDate } from '../format';
import { useLiveEvents } from '../live';
import type { Grant } from '../../../src/api/types.js';

export interface DecisionNotice {
  id: string;
  tone: 'good' | 'bad';
  text: string;
}

export function decisionText(g: Grant): { tone: DecisionNotice['tone']; text: string } {
  const what = `Your request for ${g.entitlements.join(', ')} on ${g.targetName}`;
  switch (g.state) {
    case 'active':
    case 'activating':
      return { tone: 'good', text: `${what} was approved: access is on until ${g.expiresAt ? formatDateWithZone(g.expiresAt) : 'its end'}.` };
    case 'approved':
      return { tone: 'good', text: `${what} was approved; access starts ${formatDate(g.requestedStartAt ?? g.startsAt)}.` };
    case 'denied':
      return { tone: 'bad', text: `${what} was denied${g.endReason ? `: “${g.endReason}”` : '.'}` };
    case 'failed':
      return { tone: 'bad', text: `${what} was approved, but the target refused it${g.endReason ? `: ${g.endReason}` : '.'}` };
    case 'cancelled':
      return { tone: 'bad', text: `${what} was cancelled${g.endReason ? `: ${g.endReason}` : '.'}` };
    case 'expired':
      return { tone: 'bad', text: `${what} was not decided in time and expired.` };
    default:
      return { tone: 'good', text: `${what} is now ${g.state}.` };
  }
}

export function useDecisionNotices(tenant: string): { notices: DecisionNotice[]; dismiss: (id: string) => void; watching: number } {
  const waiting = useRef<Set<string> | null>(null);
  const [notices, setNotices] = useState<DecisionNotice[]>([]);
  const [watching, setWatching] = useState(0);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const check = useCallback(async () => {
    let mine: Grant[];
    try {
      mine = (await call('listGrants', { params: { tenant }, query: { mine: 'true', limit: 100 } })).items;
    } catch {
      return; // the banner about the server says enough
    }
    const before = waiting.current;
    // An approved request being set up on the target is told once it is active (or failed).
    const open = (g: Grant) => g.state === 'requested' || (g.state === 'activating' && !!before?.has(g.id));
    waiting.current = new Set(mine.filter(open).map((g) => g.id));
    setWatching(waiting.current.size);
    if (!before) return;
    const decided = mine.filter((g) => before.has(g.id) && !open(g));
    if (decided.length) setNotices((cur) => [...decided.map((g) => ({ id: g.id, ...decisionText(g) })), ...cur.filter((n) => !decided.some((g) => g.id === n.id))]);
  }, [tenant]);

  useEffect(() => {
    waiting.current = null;
    setNotices([]);
    void check();
    return () => clearTimeout(pending.current);
  }, [check]);

  useLiveEvents((e) => {
    // Only my waiting requests matter; a resync may hide a decision taken while disconnected.
    if (e.kind === 'grant' && !waiting.current?.has(e.grant.id) && e.grant.state !== 'requested') return;
    clearTimeout(pending.current);
    pending.current = setTimeout(() => void check(), 250);
  });

  const dismiss = useCallback((id: string) => setNotices((cur) => cur.filter((n) => n.id !== id)), []);
  return { notices, dismiss, watching };
}
