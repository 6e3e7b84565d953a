/**
 * What the policy a grant was given under lets the gateway do (`rules.gateway`): record keystrokes,
 * relay port forwards and SFTP. Read from the grant's own policy version, so an edit of the policy
 * changes new grants only, like every other policy field.
 */
import type { Kysely } from 'kysely';
import { noGatewayOptions, readRules, type GatewayOptions } from '../core/policy-rules.js';
import type { Database } from '../store/schema.js';

export async function gatewayOptionsOf(db: Kysely<Database>, grantId: string): Promise<GatewayOptions> {
  const row = await db
    .selectFrom('grants')
    .leftJoin('policies', 'policies.id', 'grants.policy_id')
    .select('policies.rules')
    .where('grants.id', '=', grantId)
    .executeTakeFirst();
  // A grant without a policy (none in older data) allows nothing beyond the shell.
  return row?.rules ? readRules(row.rules).gateway : noGatewayOptions;
}
