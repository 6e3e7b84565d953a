/** The pieces every Active Directory test needs: a target config for a test DC, and group membership as the DC sees it. */
import type { Client } from 'ldapts';
import type { JitDomain, SambaDc } from '../harness/samba.js';

/** Connection of the documented least-privilege service account to a test DC's JIT OU. */
export function adTargetConfig(dc: SambaDc, domain: JitDomain, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    url: dc.ldapsUrl,
    bindDn: domain.serviceDn,
    bindPassword: domain.servicePassword,
    caPem: dc.caPem,
    tlsServerName: dc.tlsServerName,
    baseDn: dc.baseDn,
    jitOu: domain.jitOu,
    connectTimeoutMs: 2000,
    ...over,
  };
}

/** Direct members of a group, read by `client` (a domain admin's connection). */
export async function groupMembers(client: Client, group: string): Promise<string[]> {
  const { searchEntries } = await client.search(group, { scope: 'base', attributes: ['member'] });
  const m = searchEntries[0]?.member ?? [];
  return (Array.isArray(m) ? m : [m]).map(String);
}
