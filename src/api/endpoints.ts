/**
 * The table of every endpoint of the HTTP API, by key: method, path, auth, OpenAPI tags and
 * summary, and the schemas of params, query, body and responses (one file per area in
 * ./endpoints/). The server registers each route from its entry (src/http/route-of.ts), the
 * OpenAPI document comes from the same schemas, and the typed client (./client.ts) calls by key.
 * src/http/contract.test.ts fails when a registered route is missing here or the other way round.
 */
import { agentEndpoints } from './endpoints/agents.js';
import { approvalEndpoints } from './endpoints/approvals.js';
import { auditEndpoints } from './endpoints/audit.js';
import { authEndpoints } from './endpoints/auth.js';
import { credentialEndpoints } from './endpoints/credentials.js';
import { eventEndpoints } from './endpoints/events.js';
import { grantEndpoints } from './endpoints/grants.js';
import { gatewayEndpoints } from './endpoints/gateway.js';
import { groupEndpoints } from './endpoints/groups.js';
import { healthEndpoints } from './endpoints/health.js';
import { identityEndpoints } from './endpoints/identity.js';
import { jitAccountEndpoints } from './endpoints/jit-accounts.js';
import { jitSettingsEndpoints } from './endpoints/jit-settings.js';
import { metricsEndpoints } from './endpoints/metrics.js';
import { mfaEndpoints } from './endpoints/mfa.js';
import { notificationEndpoints } from './endpoints/notifications.js';
import { offboardingEndpoints } from './endpoints/offboarding.js';
import { policyEndpoints } from './endpoints/policies.js';
import { ssoEndpoints } from './endpoints/sso.js';
import { targetEndpoints } from './endpoints/targets.js';
import { targetKindEndpoints } from './endpoints/target-kinds.js';
import { tenantEndpoints } from './endpoints/tenants.js';
import { tokenEndpoints } from './endpoints/tokens.js';

export const endpoints = {
  ...agentEndpoints,
  ...approvalEndpoints,
  ...auditEndpoints,
  ...authEndpoints,
  ...credentialEndpoints,
  ...eventEndpoints,
  ...grantEndpoints,
  ...gatewayEndpoints,
  ...groupEndpoints,
  ...healthEndpoints,
  ...identityEndpoints,
  ...jitAccountEndpoints,
  ...jitSettingsEndpoints,
  ...metricsEndpoints,
  ...mfaEndpoints,
  ...notificationEndpoints,
  ...offboardingEndpoints,
  ...policyEndpoints,
  ...ssoEndpoints,
  ...targetEndpoints,
  ...targetKindEndpoints,
  ...tenantEndpoints,
  ...tokenEndpoints,
};

export type Endpoints = typeof endpoints;
export type EndpointKey = keyof Endpoints;
