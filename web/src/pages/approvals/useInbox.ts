/**
 * The approvals inbox, kept current: reloaded (debounced) on every grant change the live stream
 * reports and after each reconnection, so a new request appears and a decided one leaves without
 * a reload. Extension requests do not touch the grant, so the stream cannot announce them: a slow
 * refresh every 30 s catches those (and approvers who do not see every grant's events).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, messageOf, tenantPath } from '../../api';
import { useLiveEvents } from '../../live';
import type { InboxItem } from '../../types';

const FALLBACK_REFRESH_MS = 30_000;

export const itemKey = (i: InboxItem) => (i.kind === 'extension' ? `x:${i.extensionId}` : `g:${i.grant.id}`);

export function useInbox(tenant: string) {
  const [items, setItems] = useState<InboxItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const seq = useRef(0);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const r = await api.get<{ items: InboxItem[] }>(tenantPath(tenant, '/approvals'));
      if (mine !== seq.current) return;
      setItems(r.items);
      setError(null);
    } catch (err) {
      if (mine === seq.current) setError(messageOf(err));
    }
  }, [tenant]);

  const reloadSoon = useCallback(() => {
    clearTimeout(pending.current);
    pending.current = setTimeout(() => void load(), 250);
  }, [load]);

  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), FALLBACK_REFRESH_MS);
    return () => {
      clearInterval(t);
      clearTimeout(pending.current);
    };
  }, [load]);

  useLiveEvents(() => reloadSoon());

  /** Takes a decided item out at once; the reload that follows confirms it. */
  const settle = useCallback(
    (key: string) => {
      setItems((cur) => cur?.filter((i) => itemKey(i) !== key) ?? cur);
      reloadSoon();
    },
    [reloadSoon],
  );

  return { items, error, settle, reload: reloadSoon };
}
