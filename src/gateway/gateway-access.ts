/**
 * Who may pass the gateway to which host, and as whom: the SSH user name names the target
 * (`web-01`, or `acme+web-01` when the person's tenants both have a `web-01`), and the person must
 * hold an active grant on it. The session runs as the grant's account, logged in with a credential
 * the person never sees: the grant's own password (linux-agent JIT accounts), or a certificate
 * Timebox issues for the session from the tenant's SSH CA (SSH-certificate targets: the grant's
 * principal; linux-agent-users targets: the person's existing user, on hosts whose sshd trusts
 * that CA). See host-login.ts.
 */
import type { Kysely } from 'kysely';
import type { SecretBox } from '../secrets/types.js';
import { credentialContext } from '../app/activate-grant.js';
import { passwordContext } from '../app/agent-channel.js';
import { LINUX_AGENT_KIND, LINUX_AGENT_USERS_KIND } from '../connectors/linux-agent/config.js';
import type { Database } from '../store/schema.js';
import { credentialsDb } from '../credentials/types.js';
import { gatewayDb, type GatewayDestinationRow } from '../store/schema-gateway.js';
import type { HostCredential } from './host-login.js';
import type { LoginCertificateLimits } from './grant-certificates.js';
import { sshCertificateConfigSchema } from '../connectors/credentials/ssh-certificate.js';
import { configContext } from '../app/targets.js';

export const SSH_CERTIFICATE_KIND = 'ssh-certificate';
/** The kinds the gateway reaches (and for which a destination may be set). */
export const GATEWAY_TARGET_KINDS: readonly string[] = [LINUX_AGENT_KIND, LINUX_AGENT_USERS_KIND, SSH_CERTIFICATE_KIND];

export type AccessRefusal =
  | 'operator_disabled'
  | 'no_such_target'
  | 'ambiguous_target'
  | 'no_active_grant'
  | 'kind_unsupported'
  | 'no_destination'
  | 'no_credential'
  | 'no_ssh_ca'
  | 'binding_unconfirmed';

/** What a refusal tells the person (on their terminal) and the audit log. */
export const REFUSAL_TEXT: Record<AccessRefusal, string> = {
  operator_disabled: 'your Timebox account is disabled',
  no_such_target: 'no target of that name in your tenants',
  ambiguous_target: 'several of your tenants have a target of that name: use <tenant>+<target> as the SSH user',
  no_active_grant: 'you hold no active grant on this target',
  kind_unsupported: 'the gateway does not reach this kind of target yet',
  no_destination: 'the gateway has no address for this target (an admin sets it)',
  no_credential: 'Timebox no longer holds the password of this grant (it was shown to you, or chosen on the host): log in directly with it',
  no_ssh_ca: 'the tenant has no active SSH CA for the gateway to sign its login with (an admin creates it)',
  binding_unconfirmed: 'your user on this host is the name you gave at your first request, and an administrator of the tenant has not confirmed it is yours yet (JIT accounts: Confirm)',
};

export interface GatewayAccess {
  tenantId: string;
  targetId: string;
  targetName: string;
  grantId: string;
  expiresAt: Date;
  account: string;
  destination: GatewayDestinationRow;
  /** What the gateway logs in with; never logged, never sent to the person. */
  credential: HostCredential;
}

export type AccessDecision = { ok: true; access: GatewayAccess } | { ok: false; refusal: AccessRefusal; tenantId: string | null; targetId: string | null };

export interface AccessDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
}

/** What an ssh-certificate target allows its certificates; undefined if its settings do not read. */
async function certificateLimits(deps: AccessDeps, targetId: string): Promise<LoginCertificateLimits | undefined> {
  const row = await deps.db.selectFrom('targets').select('config_enc').where('id', '=', targetId).executeTakeFirst();
  if (!row) return undefined;
  const parsed = sshCertificateConfigSchema.safeParse(JSON.parse(deps.secrets.decrypt(row.config_enc, configContext(targetId))));
  if (!parsed.success) return undefined;
  const c = parsed.data;
  return { extensions: c.extensions, ...(c.forceCommand ? { forceCommand: c.forceCommand } : {}), ...(c.sourceAddresses ? { sourceAddresses: c.sourceAddresses } : {}) };
}

/** Whether the tenant has an active SSH CA: the only Timebox key a host can trust for a login. */
async function hasActiveSshCa(db: Kysely<Database>, tenantId: string): Promise<boolean> {
  const ca = await credentialsDb(db)
    .selectFrom('certificate_authorities')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('kind', '=', 'ssh')
    .where('status', '=', 'active')
    .executeTakeFirst();
  return ca !== undefined;
}

/** The targets an SSH user name may mean: `<target>` or `<tenant-slug>+<target>`. */
export function targetNamesOf(user: string): Array<{ tenant: string | null; target: string }> {
  const out: Array<{ tenant: string | null; target: string }> = [{ tenant: null, target: user }];
  const plus = user.indexOf('+');
  if (plus > 0 && plus < user.length - 1) out.push({ tenant: user.slice(0, plus), target: user.slice(plus + 1) });
  return out;
}

/**
 * The grant's password while Timebox still holds it: the owner's copy, kept until it is revealed,
 * or the copy for the agent, kept until the agent confirmed the account.
 */
function grantPassword(deps: AccessDeps, grantId: string, credentialEnc: string | null, agentPasswordEnc: string | null): string | null {
  if (credentialEnc) {
    const c = JSON.parse(deps.secrets.decrypt(credentialEnc, credentialContext(grantId))) as { password?: string };
    if (c.password) return c.password;
  }
  return agentPasswordEnc ? deps.secrets.decrypt(agentPasswordEnc, passwordContext(grantId)) : null;
}

export async function decideAccess(deps: AccessDeps, operatorId: string, sshUser: string, now: Date): Promise<AccessDecision> {
  const db = gatewayDb(deps.db);
  const operator = await db.selectFrom('operators').select(['disabled', 'email']).where('id', '=', operatorId).executeTakeFirst();
  if (!operator || operator.disabled) return { ok: false, refusal: 'operator_disabled', tenantId: null, targetId: null };

  let targets: Array<{ id: string; tenant_id: string; name: string; kind: string }> = [];
  for (const n of targetNamesOf(sshUser)) {
    let q = db
      .selectFrom('targets as t')
      .innerJoin('memberships as m', (j) => j.onRef('m.tenant_id', '=', 't.tenant_id').on('m.operator_id', '=', operatorId).on('m.disabled_at', 'is', null))
      .innerJoin('tenants as tn', 'tn.id', 't.tenant_id')
      .select(['t.id', 't.tenant_id', 't.name', 't.kind'])
      .where('t.name', '=', n.target);
    if (n.tenant) q = q.where('tn.slug', '=', n.tenant);
    targets = await q.execute();
    if (targets.length > 0) break;
  }
  if (targets.length === 0) return { ok: false, refusal: 'no_such_target', tenantId: null, targetId: null };
  if (targets.length > 1) return { ok: false, refusal: 'ambiguous_target', tenantId: null, targetId: null };
  const target = targets[0]!;
  const refuse = (refusal: AccessRefusal): AccessDecision => ({ ok: false, refusal, tenantId: target.tenant_id, targetId: target.id });

  // The active grant ending last: the session lasts as long as the person may be there.
  const grant = await db
    .selectFrom('grants')
    .select(['id', 'expires_at', 'credential_enc', 'entitlements'])
    .where('target_id', '=', target.id)
    .where('operator_id', '=', operatorId)
    .where('state', '=', 'active')
    .where('expires_at', '>', now)
    .orderBy('expires_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!grant || !grant.expires_at) return refuse('no_active_grant');
  if (!GATEWAY_TARGET_KINDS.includes(target.kind)) return refuse('kind_unsupported');
  const destination = await db.selectFrom('gateway_destinations').selectAll().where('target_id', '=', target.id).executeTakeFirst();
  if (!destination) return refuse('no_destination');
  const granted = (account: string, credential: HostCredential): AccessDecision => ({
    ok: true,
    access: { tenantId: target.tenant_id, targetId: target.id, targetName: target.name, grantId: grant.id, expiresAt: grant.expires_at!, account, destination, credential },
  });
  const certificate = async (account: string, limits?: LoginCertificateLimits): Promise<AccessDecision> => {
    // Never create a CA from here: hosts trust only a CA an admin set them up with.
    if (!(await hasActiveSshCa(deps.db, target.tenant_id))) return refuse('no_ssh_ca');
    const subject = operator.email.slice(0, 120);
    return granted(account, { kind: 'certificate', tenantId: target.tenant_id, grantId: grant.id, operatorId, subject, grantEnd: grant.expires_at!, ...(limits ? { limits } : {}) });
  };

  if (target.kind === SSH_CERTIFICATE_KIND) {
    // The grant's first principal; a grant of several principals logs in as the first one, with
    // what the target allows its certificates (forced command, source addresses, extensions).
    const principal = grant.entitlements[0];
    const limits = await certificateLimits(deps, target.id);
    return principal && limits ? certificate(principal, limits) : refuse('no_credential');
  }
  const onHost = await db
    .selectFrom('agent_grants')
    .select(['username', 'password_enc'])
    .where('grant_id', '=', grant.id)
    .where('removed_at', 'is', null)
    .executeTakeFirst();
  if (!onHost) return refuse('no_credential');
  // An existing user has no password Timebox knows: a certificate for that user, during the grant,
  // once an administrator confirmed the user is this person's (confirm-binding.ts).
  if (target.kind === LINUX_AGENT_USERS_KIND) {
    const binding = await db
      .selectFrom('grants')
      .innerJoin('jit_accounts', 'jit_accounts.id', 'grants.jit_account_id')
      .select(['jit_accounts.confirmed_at', 'jit_accounts.username'])
      .where('grants.id', '=', grant.id)
      .executeTakeFirst();
    if (!binding?.confirmed_at || binding.username !== onHost.username) return refuse('binding_unconfirmed');
    return certificate(onHost.username);
  }
  const password = grantPassword(deps, grant.id, grant.credential_enc, onHost.password_enc);
  if (password === null) return refuse('no_credential');
  return granted(onHost.username, { kind: 'password', password });
}
