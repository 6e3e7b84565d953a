/**
 * Break-glass reviews owed and open alerts, with the grants they concern (target, roles, times).
 * Reloaded on the live stream's grant changes (a break-glass grant arrives as one) and every 30 s,
 * since a review or a resolved alert by someone else changes no grant.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { allPages, call } from '../../api';
import { useLiveData } from '../../hooks/useLiveData';
import { useLiveEvents } from '../../live';
import type { Alert, Grant, Review } from '../../../../src/api/types.js';

const FALLBACK_REFRESH = { everyMs: 30_000 };
/** Grant details looked up per load, at most (the lists themselves are complete). */
const MAX_LOOKUPS = 50;

interface Owed {
  reviews: Review[];
  alerts: Alert[];
}

export function useReviews(tenant: string) {
  const request = useCallback(async (): Promise<Owed> => {
    const [reviews, alerts] = await Promise.all([allPages('listReviews', { params: { tenant } }, 2000), allPages('listAlerts', { params: { tenant } }, 2000)]);
    return { reviews, alerts };
  }, [tenant]);
  const { data, error, update, reloadSoon } = useLiveData(request, FALLBACK_REFRESH);
  const [grants, setGrants] = useState<Record<string, Grant>>({});
  const known = useRef(new Map<string, Grant>());

  // After each load, the grants the cards and alerts name; the lists show before these arrive.
  useEffect(() => {
    if (!data) return;
    let stale = false;
    const ids = [...new Set([...data.reviews.map((i) => i.grantId), ...data.alerts.flatMap((i) => (i.grantId ? [i.grantId] : []))])];
    const missing = ids.filter((id) => !known.current.has(id)).slice(0, MAX_LOOKUPS);
    void Promise.allSettled(missing.map((id) => call('getGrant', { params: { tenant, grantId: id } }))).then((found) => {
      for (const f of found) if (f.status === 'fulfilled') known.current.set(f.value.id, f.value);
      if (!stale) setGrants(Object.fromEntries(known.current));
    });
    return () => {
      stale = true;
    };
  }, [data, tenant]);

  // A grant's state changes (it ends) while a review is owed: look it up again on the reload this event brings.
  useLiveEvents((e) => {
    if (e.kind === 'grant') known.current.delete(e.grant.id);
  });

  /** Takes a reviewed grant out at once; the reload that follows confirms it (and its alert leaves). */
  const settle = useCallback(
    (grantId: string) => {
      update((cur) => (cur ? { ...cur, reviews: cur.reviews.filter((r) => r.grantId !== grantId) } : cur));
      reloadSoon();
    },
    [update, reloadSoon],
  );

  return { reviews: data?.reviews ?? null, alerts: data?.alerts ?? null, grants, error, settle, reload: reloadSoon };
}
