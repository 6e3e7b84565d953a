/** The tenant being worked in and who is signed in, for every page inside the shell. */
import { createContext, useContext } from 'react';
import { can, type Permission } from '../../src/core/roles.js';
import type { Operator, Tenant } from '../../src/api/types.js';

export interface Workspace {
  tenant: Tenant;
  me: Operator;
}

export const WorkspaceContext = createContext<Workspace | null>(null);

export function useWorkspace(): Workspace & { can(p: Permission): boolean; slug: string } {
  const w = useContext(WorkspaceContext);
  if (!w) throw new Error('useWorkspace outside the tenant shell');
  return { ...w, slug: w.tenant.slug, can: (p) => can(w.tenant.roles, p) };
}
