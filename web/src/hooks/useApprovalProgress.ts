/**
 * "Waiting for approval (level n of m)" for requested grants. The inbox tells the level to those
 * who may decide (and admins); otherwise the number of levels comes from the policy the server
 * would have chosen (mirrored here), and the level is known only when there is a single one.
 */
import { useEffect, useMemo, useState } from 'react';
import { allPages, call } from '../api';
import type { ApprovalProgress } from '../components/Status';
import { useWorkspace } from '../context';
import { useLiveEvents } from '../live';
import { fittingPolicies } from '../policy-match';
import type { Grant, Policy } from '../../../src/api/types.js';

interface Basis {
  policies: Policy[];
  myGroups: string[];
  inbox: Record<string, { level: number; levels: number }>;
}

export function useApprovalProgress(grants: readonly (Grant | undefined)[]): Record<string, ApprovalProgress> {
  const ws = useWorkspace();
  const waiting = grants.filter((g): g is Grant => g?.state === 'requested');
  const key = waiting.map((g) => g.id).join(',');
  const [basis, setBasis] = useState<Basis | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    if (!key) return;
    let stale = false;
    const canPolicies = ws.can('policies.read');
    Promise.all([
      canPolicies ? call('listPolicies', { params: { tenant: ws.slug } }).then((r) => r.items) : Promise.resolve([]),
      canPolicies ? call('listGroups', { params: { tenant: ws.slug } }).then((r) => r.items) : Promise.resolve([]),
      allPages('listApprovals', { params: { tenant: ws.slug } }, 2000),
    ]).then(
      ([policies, groups, inbox]) => {
        if (stale) return;
        const levels: Basis['inbox'] = {};
        for (const i of inbox) if (i.kind === 'request') levels[i.grant.id] = { level: i.level, levels: i.levels };
        setBasis({ policies, myGroups: groups.filter((g) => g.memberIds.includes(ws.me.id)).map((g) => g.id), inbox: levels });
      },
      () => undefined, // the badge still says "Waiting for approval"
    );
    return () => {
      stale = true;
    };
  }, [ws.slug, key, tick]);

  // A decision at one level changes the grant (not its state): look again.
  useLiveEvents((e) => {
    if (e.kind === 'grant' && key.includes(e.grant.id)) setTick((t) => t + 1);
  });

  return useMemo(() => {
    const out: Record<string, ApprovalProgress> = {};
    if (!basis) return out;
    for (const g of waiting) {
      const known = basis.inbox[g.id];
      if (known) {
        out[g.id] = known;
        continue;
      }
      const policy =
        (g.policyId ? basis.policies.find((p) => p.id === g.policyId) : undefined) ??
        fittingPolicies(basis.policies, { targetId: g.targetId, entitlements: g.entitlements, roles: ws.tenant.roles, operatorId: g.operatorId, groupIds: g.operatorId === ws.me.id ? basis.myGroups : [] })[0];
      const levels = policy?.rules?.approvalLevels.length ?? 0;
      if (levels) out[g.id] = { level: g.approvalLevel ?? (levels === 1 ? 1 : null), levels };
    }
    return out;
  }, [basis, key]);
}
