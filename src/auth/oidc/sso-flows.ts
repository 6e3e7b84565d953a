/**
 * Sign-ins in flight, kept server-side: the state, nonce and PKCE verifier of each attempt in a
 * row found by the state's hash, deleted when the provider answers (single use: a replayed
 * answer finds nothing) and useless after ten minutes. Also the one-time codes handed to the CLI
 * over its loopback redirect, bound to the CLI's own PKCE challenge.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import * as oidc from 'openid-client';
import type { Clock } from '../../core/clock.js';
import { generateToken, sha256Hex } from '../../secrets/password.js';
import type { SecretBox } from '../../secrets/types.js';
import type { Database } from '../../store/schema.js';
import type { SsoFlowsTable } from '../../store/schema-sso.js';
import type { Selectable } from 'kysely';

export const FLOW_TTL_MS = 10 * 60_000;
export const HANDOFF_TTL_MS = 2 * 60_000;
type Db = Kysely<Database>;
export type FlowRow = Selectable<SsoFlowsTable>;

/** base64url(SHA-256(verifier)): RFC 7636 S256, the way the CLI binds its handoff. */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

const deviceContext = (id: string) => `sso_flows:${id}:device_code`;

export function createSsoFlows(deps: { db: Db; clock: Clock; secrets: SecretBox }) {
  const { db, clock, secrets } = deps;

  async function purgeExpired(): Promise<void> {
    const now = clock.now();
    await db.deleteFrom('sso_flows').where('expires_at', '<=', now).execute();
    await db.deleteFrom('sso_handoffs').where('expires_at', '<=', now).execute();
  }

  /** A browser (web) or CLI sign-in; answers the values the authorization URL needs. */
  async function begin(
    tenantId: string,
    kind: 'web' | 'cli',
    bind: { browserSecret?: string; cliRedirect?: string; cliChallenge?: string },
  ): Promise<{ state: string; nonce: string; codeVerifier: string }> {
    await purgeExpired();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const now = clock.now();
    await db
      .insertInto('sso_flows')
      .values({
        id: sha256Hex(state),
        tenant_id: tenantId,
        kind,
        nonce,
        code_verifier: codeVerifier,
        browser_hash: bind.browserSecret ? sha256Hex(bind.browserSecret) : null,
        cli_redirect: bind.cliRedirect ?? null,
        cli_challenge: bind.cliChallenge ?? null,
        device_code_enc: null,
        created_at: now,
        expires_at: new Date(now.getTime() + FLOW_TTL_MS),
      })
      .execute();
    return { state, nonce, codeVerifier };
  }

  /** Removes and returns the flow of this state; null when unknown, used or expired. */
  async function take(state: string): Promise<FlowRow | null> {
    const row = await db.deleteFrom('sso_flows').where('id', '=', sha256Hex(state)).where('kind', '!=', 'device').returningAll().executeTakeFirst();
    if (!row || row.expires_at <= clock.now()) return null;
    return row;
  }

  /** The callback came to the browser that started this flow (constant-time comparison). */
  async function browserMatches(flow: FlowRow, browserSecret: string): Promise<boolean> {
    if (!flow.browser_hash) return false;
    const a = Buffer.from(sha256Hex(browserSecret), 'hex');
    const b = Buffer.from(flow.browser_hash, 'hex');
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** A device sign-in: the CLI holds the handle, the server alone the device code. */
  async function beginDevice(tenantId: string, deviceCode: string, expiresInSeconds: number): Promise<string> {
    await purgeExpired();
    const handle = generateToken(32);
    const id = sha256Hex(handle);
    const now = clock.now();
    await db
      .insertInto('sso_flows')
      .values({
        id,
        tenant_id: tenantId,
        kind: 'device',
        nonce: null,
        code_verifier: null,
        browser_hash: null,
        cli_redirect: null,
        cli_challenge: null,
        device_code_enc: secrets.encrypt(deviceCode, deviceContext(id)),
        created_at: now,
        expires_at: new Date(now.getTime() + Math.min(expiresInSeconds * 1000, FLOW_TTL_MS)),
      })
      .execute();
    return handle;
  }

  async function device(handle: string): Promise<{ tenantId: string; deviceCode: string } | null> {
    const id = sha256Hex(handle);
    const row = await db.selectFrom('sso_flows').selectAll().where('id', '=', id).where('kind', '=', 'device').executeTakeFirst();
    if (!row || !row.device_code_enc || row.expires_at <= clock.now()) return null;
    return { tenantId: row.tenant_id, deviceCode: secrets.decrypt(row.device_code_enc, deviceContext(id)) };
  }

  /** The device sign-in succeeded (or failed for good): the handle stops working. Single winner. */
  async function finishDevice(handle: string): Promise<boolean> {
    const res = await db.deleteFrom('sso_flows').where('id', '=', sha256Hex(handle)).where('kind', '=', 'device').executeTakeFirst();
    return res.numDeletedRows > 0n;
  }

  async function issueHandoff(operatorId: string, tenantId: string, cliChallenge: string): Promise<string> {
    const code = generateToken(32);
    const now = clock.now();
    await db
      .insertInto('sso_handoffs')
      .values({
        code_hash: sha256Hex(code),
        operator_id: operatorId,
        tenant_id: tenantId,
        cli_challenge: cliChallenge,
        created_at: now,
        expires_at: new Date(now.getTime() + HANDOFF_TTL_MS),
      })
      .execute();
    return code;
  }

  /**
   * Redeems a handoff code once. The verifier must match the challenge the CLI sent when it
   * began: a code caught on its way through the browser is useless to anyone else.
   */
  async function redeemHandoff(code: string, verifier: string): Promise<{ operatorId: string; tenantId: string } | null> {
    const now = clock.now();
    const row = await db
      .updateTable('sso_handoffs')
      .set({ used_at: now })
      .where('code_hash', '=', sha256Hex(code))
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returning(['operator_id', 'tenant_id', 'cli_challenge'])
      .executeTakeFirst();
    if (!row) return null;
    const a = Buffer.from(s256(verifier));
    const b = Buffer.from(row.cli_challenge);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return null;
    return { operatorId: row.operator_id, tenantId: row.tenant_id };
  }

  return { begin, take, browserMatches, beginDevice, device, finishDevice, issueHandoff, redeemHandoff };
}

export type SsoFlows = ReturnType<typeof createSsoFlows>;
