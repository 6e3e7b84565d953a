/**
 * The approvals inbox, kept current: reloaded (debounced) on every grant change the live stream
 * reports and after each reconnection, so a new request appears and a decided one leaves without
 * a reload. Extension requests do not touch the grant, so the stream cannot announce them: a slow
 * refresh every 30 s catches those (and approvers who do not see every grant's events).
 */
import { useCallback } from 'react';
import { allPages } from '../../api';
import { useLiveData } from '../../hooks/useLiveData';
import type { InboxItem } from '../../../../src/api/types.js';

const FALLBACK_REFRESH = { everyMs: 30_000 };

export const itemKey = (i: InboxItem) => (i.kind === 'extension' ? `x:${i.extensionId}` : `g:${i.grant.id}`);

export function useInbox(tenant: string) {
  const request = useCallback(() => allPages('listApprovals', { params: { tenant } }, 2000), [tenant]);
  const { data: items, error, update, reloadSoon } = useLiveData(request, FALLBACK_REFRESH);

  /** Takes a decided item out at once; the reload that follows confirms it. */
  const settle = useCallback(
    (key: string) => {
      update((cur) => cur?.filter((i) => itemKey(i) !== key) ?? cur);
      reloadSoon();
    },
    [update, reloadSoon],
  );

  return { items, error, settle, reload: reloadSoon };
}
