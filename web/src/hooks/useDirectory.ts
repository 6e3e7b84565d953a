/**
 * The tenant's people and operator groups, for pickers (policy requesters and approvers, group
 * members). Members need members.manage or audit.read, groups policies.read: whatever the viewer
 * may not read stays empty.
 */
import { useCallback, useEffect, useState } from 'react';
import { call, allPages, messageOf } from '../api';
import { useWorkspace } from '../context';
import type { Group, Member } from '../../../src/api/types.js';

export interface Directory {
  members: Member[];
  groups: Group[];
  loaded: boolean;
  error: string | null;
  reload: () => void;
  emailOf: (operatorId: string) => string;
}

export function useDirectory(): Directory {
  const ws = useWorkspace();
  const [members, setMembers] = useState<Member[]>([]);
  const [groups, setGroups] = useState<Group[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const canMembers = ws.can('members.manage') || ws.can('audit.read');
  const canGroups = ws.can('policies.read');

  const reload = useCallback(() => {
    Promise.all([
      canMembers ? allPages('listMembers', { params: { tenant: ws.slug } }, 2000) : Promise.resolve([]),
      canGroups ? call('listGroups', { params: { tenant: ws.slug } }).then((r) => r.items) : Promise.resolve([]),
    ]).then(
      ([m, g]) => {
        setMembers(m);
        setGroups(g);
        setLoaded(true);
        setError(null);
      },
      (err: unknown) => {
        setError(messageOf(err));
        setLoaded(true);
      },
    );
  }, [ws.slug, canMembers, canGroups]);
  useEffect(reload, [reload]);

  const emailOf = (id: string) => members.find((m) => m.operator.id === id)?.operator.email ?? `${id.slice(0, 8)}…`;
  return { members, groups, loaded, error, reload, emailOf };
}
