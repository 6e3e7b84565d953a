/**
 * Target kind `security-token`: a grant issues a signed JWT (EdDSA) from the tenant's token key
 * for the configured audience, with the granted scopes, valid exactly for the grant. Resource
 * servers verify it offline against the tenant's JWKS, or ask Timebox (RFC 7662 introspection),
 * which also sees an early revocation. `iss` is the server's issuer (TIMEBOX_TOKEN_ISSUER).
 */
import { z } from 'zod';
import { refused } from '../../core/errors.js';
import type { ConnectorDefinition, ConnectorInstance, ConnectorServices } from '../contract.js';
import {
  asTargetError,
  credentialCapabilities,
  credentialServices,
  grantContext,
  pageOf,
  requesterAccountName,
  requesterAccountNameRules,
  revokeGrantCredentials,
  supersedeEarlier,
  verifyGrantCredentials,
} from './shared.js';

/** RFC 6749 §3.3 scope token: printable ASCII without space, `"` or `\`. */
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
const scopeProblem = (name: string): string | null =>
  SCOPE.test(name) ? null : `scope ${JSON.stringify(String(name).slice(0, 80))} is not a valid scope token (1-128 printable ASCII, no spaces, quotes or backslashes)`;

const audience = z
  .string()
  .min(1)
  .max(256)
  .refine((a) => !/\p{Cc}/u.test(a), { error: 'must be printable' });

export const securityTokenConfigSchema = z.strictObject({
  /** The API(s) the tokens are for (`aud`). */
  audience: z
    .union([audience, z.array(audience).min(1).max(8)])
    .meta({ title: 'Audience', description: 'The API the tokens are for; one per line for several.', 'x-widget': 'lines' }),
  /** Scopes that may be granted (entitlements), joined into the `scope` claim. */
  scopes: z
    .array(z.string().superRefine((sc, ctx) => {
      const why = scopeProblem(sc);
      if (why) ctx.addIssue({ code: 'custom', message: why });
    }))
    .min(1)
    .max(100)
    .meta({ title: 'Scopes that may be granted', description: 'One per line.' }),
});
export type SecurityTokenConfig = z.output<typeof securityTokenConfigSchema>;

function createInstance(config: SecurityTokenConfig, services?: ConnectorServices): ConnectorInstance {
  const s = credentialServices('security-token', services);
  return {
    async check() {
      const aud = Array.isArray(config.audience) ? config.audience.join(', ') : config.audience;
      return { ok: true, items: [{ name: 'audience', ok: true, message: `tokens for ${aud}, scopes ${config.scopes.join(' ')}` }] };
    },

    async listEntitlements(_ctx, q) {
      return pageOf(config.scopes.map((sc) => ({ externalId: sc, displayName: sc, description: 'token scope' })), q);
    },

    async grant(_ctx, spec) {
      try {
        const c = grantContext(spec);
        // The configuration may have changed since the request was checked: nothing is issued for a scope it no longer offers.
        const missing = spec.entitlements.filter((sc) => !config.scopes.includes(sc));
        if (missing.length) throw refused('entitlement_missing', `scope(s) ${missing.map((sc) => JSON.stringify(sc)).join(', ')} are not offered by this target`);
        await supersedeEarlier(s, spec.grantId);
        const issued = await s.engines.tokens.issue({
          tenantId: c.tenantId,
          grantId: spec.grantId,
          subject: c.subject,
          scope: spec.entitlements,
          audience: config.audience,
          notBefore: c.notBefore,
          notAfter: c.notAfter,
        });
        // The jti is the credential id: revocation and introspection find the token by it.
        return {
          handle: { credentialIds: [issued.credentialId], jti: issued.credentialId, keyId: issued.keyId },
          credential: { username: spec.account.username, token: issued.token },
        };
      } catch (err) {
        throw asTargetError(err);
      }
    },

    revoke: (_ctx, spec) => revokeGrantCredentials(s, spec),
    verify: (_ctx, spec) => verifyGrantCredentials(s, spec),
    async close() {},
  };
}

export const securityTokenConnector: ConnectorDefinition<SecurityTokenConfig, 'security-token'> = {
  kind: 'security-token',
  label: 'Security tokens (JWT)',
  help: 'A grant issues a signed token for an API with the chosen scopes, valid exactly for the grant.',
  accountNameRules: requesterAccountNameRules(128),
  configSchema: securityTokenConfigSchema,
  capabilities: credentialCapabilities,
  accountName: 'requester',
  validateAccountName: requesterAccountName(128),
  validateEntitlementName: scopeProblem,
  passwordPolicy: { length: 32 },
  async validateRequest(ask) {
    if (ask.publicKey !== undefined) return 'security tokens are bearer tokens: this target takes no public key';
    return null;
  },
  create: createInstance,
};
