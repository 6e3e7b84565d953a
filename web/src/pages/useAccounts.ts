/**
 * JIT accounts with the grant that tells their state (account-grants.ts), kept current by the live event stream: a change is applied at once and the lists are
 * reloaded shortly after to catch everything else (new grants, account status).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { call, messageOf } from '../api';
import { useLiveEvents } from '../live';
import type { Grant, JitAccount } from '../../../src/api/types.js';
import { accountKey, grantsTellingState } from './account-grants';

export interface AccountsState {
  accounts: JitAccount[] | null;
  /** The grant that tells each account's state, by account id. */
  latest: Record<string, Grant>;
  error: string | null;
  reload: () => void;
}

const keyOf = accountKey;

export function useAccounts(tenant: string, mine: boolean): AccountsState {
  const [accounts, setAccounts] = useState<JitAccount[] | null>(null);
  const [latest, setLatest] = useState<Record<string, Grant>>({});
  const [error, setError] = useState<string | null>(null);
  const seq = useRef(0);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const load = useCallback(async () => {
    const mySeq = ++seq.current;
    try {
      const [acc, grants] = await Promise.all([
        call('listJitAccounts', { params: { tenant }, query: { mine: mine ? 'true' : 'false', limit: 200 } }),
        call('listGrants', { params: { tenant }, query: { mine: mine ? 'true' : 'false', limit: 200 } }),
      ]);
      const newest = grantsTellingState(grants.items);
      const byId = new Map(grants.items.map((g) => [g.id, g]));
      const missing = acc.items.filter((a) => !newest.has(keyOf(a.targetId, a.operatorId)) && a.lastGrantId && !byId.has(a.lastGrantId));
      const fetched = await Promise.all(missing.map((a) => call('getGrant', { params: { tenant, grantId: a.lastGrantId ?? '' } }).catch(() => null)));
      for (const g of fetched) if (g) newest.set(keyOf(g.targetId, g.operatorId), g);
      if (mySeq !== seq.current) return;
      const next: Record<string, Grant> = {};
      for (const a of acc.items) {
        const g = newest.get(keyOf(a.targetId, a.operatorId));
        if (g) next[a.id] = g;
      }
      setAccounts(acc.items);
      setLatest(next);
      setError(null);
    } catch (err) {
      if (mySeq === seq.current) setError(messageOf(err));
    }
  }, [tenant, mine]);

  useEffect(() => {
    void load();
    return () => clearTimeout(pending.current);
  }, [load]);

  const reloadSoon = useCallback(() => {
    clearTimeout(pending.current);
    pending.current = setTimeout(() => void load(), 300);
  }, [load]);

  useLiveEvents((e) => {
    if (e.kind === 'grant') {
      const c = e.grant;
      setLatest((cur) => {
        const hit = Object.entries(cur).find(([, g]) => g.id === c.id);
        if (!hit) return cur;
        return { ...cur, [hit[0]]: { ...hit[1], state: c.state, expiresAt: c.expiresAt, lastError: c.lastError } };
      });
    }
    reloadSoon();
  });

  return { accounts, latest, error, reload: reloadSoon };
}
