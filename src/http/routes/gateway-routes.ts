/**
 * The SSH gateway's API: its host key (to pin), gateway certificates and registered keys for the
 * signed-in person, where the gateway reaches each host target, and recorded sessions (admins
 * and auditors: list, kill, export as a plain asciicast file).
 */
import type { z } from 'zod';
import { endpoints } from '../../api/endpoints.js';
import type { sessionSchema } from '../../api/endpoints/gateway.js';
import type { AuditLog } from '../../audit/types.js';
import type { Clock } from '../../core/clock.js';
import { conflict, forbidden, notFound } from '../../core/errors.js';
import { assertNotConfinedToOneTenant } from '../whole-account.js';
import type { SecretBox } from '../../secrets/types.js';
import type { Database } from '../../store/schema.js';
import type { Kysely } from 'kysely';
import { getDestination, setDestination, type DestinationView } from '../../gateway/destinations.js';
import { readRecording, requestKill } from '../../gateway/gateway-sessions.js';
import { addOperatorKey, listOperatorKeys, removeOperatorKey } from '../../gateway/operator-keys.js';
import { getGatewaySettings, setGatewaySettings, type GatewaySettingsView } from '../../gateway/recording-retention.js';
import type { RecordingStore } from '../../gateway/recording-store.js';
import { getSession, listSessions, type SessionView } from '../../gateway/session-queries.js';
import type { Principal } from '../../auth/tokens.js';
import { actorOf, principalOf } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { routeOf } from '../route-of.js';
import { iso } from '../schemas.js';
import { requireTenant } from '../tenant-access.js';

export interface GatewayRouteDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
  audit: AuditLog;
  clock: Clock;
  recordings: RecordingStore;
  /** `host:port` people use to reach a gateway, when known. */
  address: () => string | null;
}

const settingsJson = (s: GatewaySettingsView) => ({ recordingRetentionDays: s.recordingRetentionDays, updatedAt: iso(s.updatedAt) });
const destinationJson = (d: DestinationView) => ({ ...d, updatedAt: d.updatedAt.toISOString() });
const sessionJson = (s: SessionView): z.infer<typeof sessionSchema> => ({
  ...s,
  startedAt: s.startedAt.toISOString(),
  endedAt: iso(s.endedAt),
  killRequestedAt: iso(s.killRequestedAt),
  recordingDeletedAt: iso(s.recordingDeletedAt),
});

/**
 * A registered key opens the gateway until it is removed, and the gateway reaches the person's
 * grants in every tenant: only a signed-in session that is not confined to one tenant by single
 * sign-on may add one, so a leaked API token or an SSO session cannot leave a lasting way in.
 */
function assertMayRegisterKeys(p: Principal): void {
  if (p.kind !== 'session') throw forbidden('SSH keys can only be added from a signed-in session, not with an API token: a key would keep opening the gateway after the token is revoked');
  if (p.ssoTenantId !== null) {
    throw forbidden('SSH keys cannot be added from a single sign-on session: a key would open the gateway to your grants in every tenant, not only the one you signed in to; use timebox ssh (a short-lived certificate), or add the key from a session signed in with your password');
  }
}

/**
 * A gateway certificate reaches the person's grants in every tenant, so a session confined to one
 * tenant by single sign-on gets one only when that tenant is the only one it could reach.
 */
async function assertCertificateStaysInTenant(db: Kysely<Database>, p: Principal): Promise<void> {
  if (p.ssoTenantId === null) return;
  const elsewhere = await db
    .selectFrom('memberships')
    .select('tenant_id')
    .where('operator_id', '=', p.operatorId)
    .where('tenant_id', '!=', p.ssoTenantId)
    .where('disabled_at', 'is', null)
    .executeTakeFirst();
  if (elsewhere) {
    throw forbidden(
      'this session signed in through single sign-on and reaches one tenant only, but a gateway certificate would reach your grants in your other tenants too; ask for it from a session signed in with your password',
    );
  }
}

export const gatewayRoutes =
  (deps: GatewayRouteDeps): RouteModule =>
  (app) => {
    app.route({
      ...routeOf(endpoints.getGateway),
      handler: async () => {
        // The key code (ssh2) loads on first use, not with the server.
        const { gatewayHostKey } = await import('../../gateway/gateway-keys.js');
        const k = await gatewayHostKey(deps);
        return { hostKey: k.publicKey, fingerprint: k.fingerprint, address: deps.address() };
      },
    });

    app.route({
      ...routeOf(endpoints.issueGatewayCertificate),
      handler: async (request) => {
        const p = principalOf(request);
        await assertCertificateStaysInTenant(deps.db, p);
        const { issueOperatorCertificate } = await import('../../gateway/operator-certificates.js');
        const c = await issueOperatorCertificate(deps, { id: p.operatorId, email: p.email }, request.body.publicKey);
        return { certificate: c.certificate, serial: c.serial, notAfter: c.notAfter.toISOString() };
      },
    });

    app.route({
      ...routeOf(endpoints.listSshKeys),
      handler: async (request) => {
        const p = principalOf(request);
        assertNotConfinedToOneTenant(p, 'Listing your SSH keys (they open the gateway in every tenant)');
        const items = await listOperatorKeys(deps, p.operatorId);
        return { items: items.map((k) => ({ ...k, createdAt: k.createdAt.toISOString() })) };
      },
    });

    app.route({
      ...routeOf(endpoints.addSshKey),
      handler: async (request, reply) => {
        const p = principalOf(request);
        assertMayRegisterKeys(p);
        const k = await addOperatorKey(deps, p.operatorId, request.body);
        return reply.status(201).send({ ...k, createdAt: k.createdAt.toISOString() });
      },
    });

    app.route({
      ...routeOf(endpoints.removeSshKey),
      handler: async (request, reply) => {
        const p = principalOf(request);
        assertNotConfinedToOneTenant(p, 'Removing an SSH key');
        await removeOperatorKey(deps, p.operatorId, request.params.id);
        return reply.status(204).send(null);
      },
    });

    app.route({
      ...routeOf(endpoints.getGatewayDestination),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        const d = await getDestination(deps, t.tenantId, request.params.targetId);
        if (!d) throw notFound('gateway destination');
        return destinationJson(d);
      },
    });

    app.route({
      ...routeOf(endpoints.setGatewayDestination),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const d = await setDestination(deps, principalOf(request).operatorId, t.tenantId, request.params.targetId, request.body);
        return destinationJson(d);
      },
    });

    app.route({
      ...routeOf(endpoints.listGatewaySessions),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        const q = request.query;
        const items = await listSessions(deps.db, t.tenantId, {
          limit: q.limit,
          ...(q.live ? { live: q.live === 'true' } : {}),
          ...(q.grantId ? { grantId: q.grantId } : {}),
        });
        return { items: items.map(sessionJson) };
      },
    });

    app.route({
      ...routeOf(endpoints.getGatewaySession),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        const s = await getSession(deps.db, t.tenantId, request.params.id);
        if (!s) throw notFound(`session ${request.params.id}`);
        return sessionJson(s.view);
      },
    });

    app.route({
      ...routeOf(endpoints.killGatewaySession),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        const r = await requestKill(deps, t.tenantId, request.params.id, principalOf(request).operatorId);
        if (r === 'not_found') throw notFound(`session ${request.params.id}`);
        if (r === 'not_live') throw conflict('the session has already ended');
        return reply.status(202).send({ id: request.params.id, killRequested: true as const });
      },
    });

    app.route({
      ...routeOf(endpoints.exportGatewayRecording),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        const s = await getSession(deps.db, t.tenantId, request.params.id);
        if (!s) throw notFound(`session ${request.params.id}`);
        if (s.row.recording_deleted_at) throw conflict(`the recording of this session was removed on ${s.row.recording_deleted_at.toISOString()} (the tenant keeps recordings for a limited number of days)`);
        const rec = await readRecording(deps, s.row);
        await deps.audit.append(deps.db, {
          tenantId: t.tenantId,
          actor: actorOf(principalOf(request)),
          action: 'gateway.recording_exported',
          subject: { type: 'gateway_session', id: s.row.id },
          after: { bytes: rec.plaintext.length, complete: rec.complete },
        });
        return reply
          .type('application/x-asciicast')
          .header('content-disposition', `attachment; filename="session-${s.row.id}.cast"`)
          .header('x-recording-complete', String(rec.complete))
          .send(rec.plaintext);
      },
    });

    app.route({
      ...routeOf(endpoints.getGatewaySettings),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        return settingsJson(await getGatewaySettings(deps, t.tenantId));
      },
    });

    app.route({
      ...routeOf(endpoints.setGatewaySettings),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'policies.manage');
        return settingsJson(await setGatewaySettings(deps, principalOf(request).operatorId, t.tenantId, request.body));
      },
    });
  };
