/** The "how to connect" part of a revealed credential: the target's connection fields, read here. */
import { connectInfo, type ConnectInfo } from '../core/connect-info.js';
import { AGENT_TARGET_KINDS } from '../connectors/linux-agent/config.js';
import type { AppDeps } from './deps.js';
import { configContext } from './targets.js';

export async function connectDetails(
  deps: Pick<AppDeps, 'db' | 'secrets'>,
  tenantId: string,
  grant: { targetId: string; username: string; expiresAt: Date | null },
): Promise<ConnectInfo | null> {
  if (!grant.expiresAt) return null;
  const target = await deps.db
    .selectFrom('targets')
    .select(['id', 'kind', 'config_enc'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', grant.targetId)
    .executeTakeFirst();
  if (!target) return null;
  const config: unknown = JSON.parse(deps.secrets.decrypt(target.config_enc, configContext(target.id)));
  let agentHostname: string | null = null;
  const agentId = (config as { agentId?: unknown } | null)?.agentId;
  if (AGENT_TARGET_KINDS.includes(target.kind) && typeof agentId === 'string') {
    const agent = await deps.db
      .selectFrom('agents')
      .select('hostname')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', agentId)
      .executeTakeFirst();
    agentHostname = agent?.hostname ?? null;
  }
  return connectInfo({ kind: target.kind, config, username: grant.username, endsAt: grant.expiresAt, agentHostname });
}
