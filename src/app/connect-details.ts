/** The "how to connect" of a revealed credential: the grant's target settings and end through connectInfo. */
import { connectInfo, type ConnectInfo } from '../core/connect-info.js';
import type { AppDeps } from './deps.js';
import { configContext } from './targets.js';

export async function connectDetails(
  deps: Pick<AppDeps, 'db' | 'secrets'>,
  tenantId: string,
  grantId: string,
  username: string,
): Promise<ConnectInfo | undefined> {
  const target = await deps.db
    .selectFrom('grants as g')
    .innerJoin('targets as t', 't.id', 'g.target_id')
    .select(['t.id', 't.kind', 't.config_enc', 'g.expires_at'])
    .where('g.tenant_id', '=', tenantId)
    .where('g.id', '=', grantId)
    .executeTakeFirst();
  if (!target?.expires_at) return undefined;
  const config = JSON.parse(deps.secrets.decrypt(target.config_enc, configContext(target.id))) as Record<string, unknown>;
  return connectInfo({ kind: target.kind, config, username, endsAt: target.expires_at });
}
