/**
 * How many requests and extensions wait for my decision, for the sidebar: the approvals inbox,
 * counted again after every live event (a new request changes a grant) and every half minute for
 * what the stream does not announce (an extension, a request the viewer may decide but not read).
 */
import { useCallback } from 'react';
import { allPages } from '../api';
import { useLiveData } from '../hooks/useLiveData';

export function useWaitingApprovals(tenant: string): number | null {
  const request = useCallback(
    () => allPages('listApprovals', { params: { tenant } }, 2000).then((items) => items.filter((i) => i.cannotDecide === null).length),
    [tenant],
  );
  return useLiveData(request, { everyMs: 30_000, whileVisible: true }).data;
}
