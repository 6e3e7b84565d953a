/**
 * Break-glass reviews owed and open alerts, with the grants they concern (target, roles, times).
 * Reloaded on the live stream's grant changes (a break-glass grant arrives as one) and every 30 s,
 * since a review or a resolved alert by someone else changes no grant.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, messageOf, tenantPath } from '../../api';
import { useLiveEvents } from '../../live';
import type { Alert, Grant, Review } from '../../types';

const FALLBACK_REFRESH_MS = 30_000;
/** Grant details looked up per load, at most (the lists themselves are complete). */
const MAX_LOOKUPS = 50;

export function useReviews(tenant: string) {
  const [reviews, setReviews] = useState<Review[] | null>(null);
  const [alerts, setAlerts] = useState<Alert[] | null>(null);
  const [grants, setGrants] = useState<Record<string, Grant>>({});
  const [error, setError] = useState<string | null>(null);
  const known = useRef(new Map<string, Grant>());
  const seq = useRef(0);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const [r, a] = await Promise.all([
        api.get<{ items: Review[] }>(tenantPath(tenant, '/reviews')),
        api.get<{ items: Alert[] }>(tenantPath(tenant, '/alerts')),
      ]);
      if (mine !== seq.current) return;
      setReviews(r.items);
      setAlerts(a.items);
      setError(null);
      const ids = [...new Set([...r.items.map((i) => i.grantId), ...a.items.flatMap((i) => (i.grantId ? [i.grantId] : []))])];
      const missing = ids.filter((id) => !known.current.has(id)).slice(0, MAX_LOOKUPS);
      const found = await Promise.allSettled(missing.map((id) => api.get<Grant>(tenantPath(tenant, `/grants/${id}`))));
      for (const f of found) if (f.status === 'fulfilled') known.current.set(f.value.id, f.value);
      if (mine === seq.current) setGrants(Object.fromEntries(known.current));
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

  useLiveEvents((e) => {
    // A grant's state changes (it ends) while a review is owed: refresh what the cards show.
    if (e.kind === 'grant') known.current.delete(e.grant.id);
    reloadSoon();
  });

  /** Takes a reviewed grant out at once; the reload that follows confirms it (and its alert leaves). */
  const settle = useCallback(
    (grantId: string) => {
      setReviews((cur) => cur?.filter((r) => r.grantId !== grantId) ?? cur);
      reloadSoon();
    },
    [reloadSoon],
  );

  return { reviews, alerts, grants, error, settle, reload: reloadSoon };
}
