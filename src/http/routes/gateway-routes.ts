/**
 * The SSH gateway's API: its host key (to pin), gateway certificates and registered keys for the
 * signed-in person, where the gateway reaches each host target, and recorded sessions (admins
 * and auditors: list, kill, export as a plain asciicast file).
 */
import { z } from 'zod';
import type { AuditLog } from '../../audit/types.js';
import type { Clock } from '../../core/clock.js';
import { conflict, notFound } from '../../core/errors.js';
import type { SecretBox } from '../../secrets/types.js';
import type { Database } from '../../store/schema.js';
import type { Kysely } from 'kysely';
import { getDestination, setDestination, type DestinationView } from '../../gateway/destinations.js';
import { gatewayHostKey } from '../../gateway/gateway-keys.js';
import { readRecording, requestKill } from '../../gateway/gateway-sessions.js';
import { issueOperatorCertificate } from '../../gateway/operator-certificates.js';
import { addOperatorKey, listOperatorKeys, removeOperatorKey } from '../../gateway/operator-keys.js';
import type { RecordingStore } from '../../gateway/recording-store.js';
import { getSession, listSessions, type SessionView } from '../../gateway/session-queries.js';
import { actorOf, principalOf } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { iso, name, uuidParam } from '../schemas.js';
import { requireTenant, tenantParamsSchema } from '../tenant-access.js';

export interface GatewayRouteDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
  audit: AuditLog;
  clock: Clock;
  recordings: RecordingStore;
  /** `host:port` people use to reach a gateway, when known. */
  address: () => string | null;
}

const publicKeyText = z.string().min(1).max(16_384);
const keyView = z.object({ id: z.string(), name: z.string(), publicKey: z.string(), fingerprint: z.string(), createdAt: z.string() });
const destinationSchema = z.object({ targetId: z.string(), host: z.string(), port: z.number(), hostKey: z.string(), hostKeyFingerprint: z.string(), updatedAt: z.string() });
const destinationJson = (d: DestinationView) => ({ ...d, updatedAt: d.updatedAt.toISOString() });
const sessionSchema = z.object({
  id: z.string(),
  live: z.boolean(),
  grantId: z.string(),
  targetId: z.string(),
  targetName: z.string(),
  operatorId: z.string(),
  operatorEmail: z.string(),
  account: z.string(),
  kind: z.string(),
  command: z.string().nullable(),
  gatewayId: z.string(),
  clientAddress: z.string().nullable(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  endReason: z.string().nullable(),
  killRequestedAt: z.string().nullable(),
  recordingSha256: z.string().nullable(),
  recordingBytes: z.number().nullable(),
});
const sessionJson = (s: SessionView): z.infer<typeof sessionSchema> => ({
  ...s,
  startedAt: s.startedAt.toISOString(),
  endedAt: iso(s.endedAt),
  killRequestedAt: iso(s.killRequestedAt),
});
const sessionParams = tenantParamsSchema.extend({ id: uuidParam });

export const gatewayRoutes =
  (deps: GatewayRouteDeps): RouteModule =>
  (app) => {
    app.get(
      '/api/v1/gateway',
      {
        schema: {
          tags: ['gateway'],
          summary: "The SSH gateway's host key and fingerprint (pin it), and where people reach it",
          response: { 200: z.object({ hostKey: z.string(), fingerprint: z.string(), address: z.string().nullable() }) },
        },
      },
      async () => {
        const k = await gatewayHostKey(deps);
        return { hostKey: k.publicKey, fingerprint: k.fingerprint, address: deps.address() };
      },
    );

    app.post(
      '/api/v1/gateway/certificate',
      {
        schema: {
          tags: ['gateway'],
          summary: 'A short-lived gateway certificate for my ssh-ed25519 public key (5 minutes; the gateway checks grants itself)',
          body: z.strictObject({ publicKey: publicKeyText }),
          response: { 200: z.object({ certificate: z.string(), serial: z.string(), notAfter: z.string() }) },
        },
      },
      async (request) => {
        const p = principalOf(request);
        const c = await issueOperatorCertificate(deps, { id: p.operatorId, email: p.email }, request.body.publicKey);
        return { certificate: c.certificate, serial: c.serial, notAfter: c.notAfter.toISOString() };
      },
    );

    app.get(
      '/api/v1/me/ssh-keys',
      { schema: { tags: ['gateway'], summary: 'My public keys registered for the gateway', response: { 200: z.object({ items: z.array(keyView) }) } } },
      async (request) => {
        const items = await listOperatorKeys(deps, principalOf(request).operatorId);
        return { items: items.map((k) => ({ ...k, createdAt: k.createdAt.toISOString() })) };
      },
    );

    app.post(
      '/api/v1/me/ssh-keys',
      {
        schema: {
          tags: ['gateway'],
          summary: 'Register a public key of mine for the gateway',
          body: z.strictObject({ name: name(100), publicKey: publicKeyText }),
          response: { 201: keyView },
        },
      },
      async (request, reply) => {
        const k = await addOperatorKey(deps, principalOf(request).operatorId, request.body);
        return reply.status(201).send({ ...k, createdAt: k.createdAt.toISOString() });
      },
    );

    app.delete(
      '/api/v1/me/ssh-keys/:id',
      { schema: { tags: ['gateway'], summary: 'Remove one of my registered keys', params: z.object({ id: uuidParam }), response: { 204: z.null() } } },
      async (request, reply) => {
        await removeOperatorKey(deps, principalOf(request).operatorId, request.params.id);
        return reply.status(204).send(null);
      },
    );

    const targetParams = tenantParamsSchema.extend({ targetId: uuidParam });
    app.get(
      '/api/v1/tenants/:tenant/targets/:targetId/gateway-destination',
      { schema: { tags: ['gateway'], summary: 'Where the gateway reaches this host target', params: targetParams, response: { 200: destinationSchema } } },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        const d = await getDestination(deps, t.tenantId, request.params.targetId);
        if (!d) throw notFound('gateway destination');
        return destinationJson(d);
      },
    );

    app.put(
      '/api/v1/tenants/:tenant/targets/:targetId/gateway-destination',
      {
        schema: {
          tags: ['gateway'],
          summary: "Set where the gateway reaches this host target and the host key it must present (a line of ssh-keyscan)",
          params: targetParams,
          body: z.strictObject({ host: z.string().min(1).max(253), port: z.number().int().min(1).max(65535).default(22), hostKey: publicKeyText }),
          response: { 200: destinationSchema },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const d = await setDestination(deps, principalOf(request).operatorId, t.tenantId, request.params.targetId, request.body);
        return destinationJson(d);
      },
    );

    app.get(
      '/api/v1/tenants/:tenant/gateway-sessions',
      {
        schema: {
          tags: ['gateway'],
          summary: 'Recorded sessions, newest first (admins and auditors)',
          params: tenantParamsSchema,
          querystring: z.object({
            live: z.enum(['true', 'false']).optional(),
            grantId: uuidParam.optional(),
            limit: z.coerce.number().int().min(1).max(200).default(50),
          }),
          response: { 200: z.object({ items: z.array(sessionSchema) }) },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        const q = request.query;
        const items = await listSessions(deps.db, t.tenantId, {
          limit: q.limit,
          ...(q.live ? { live: q.live === 'true' } : {}),
          ...(q.grantId ? { grantId: q.grantId } : {}),
        });
        return { items: items.map(sessionJson) };
      },
    );

    app.get(
      '/api/v1/tenants/:tenant/gateway-sessions/:id',
      { schema: { tags: ['gateway'], summary: 'One recorded session', params: sessionParams, response: { 200: sessionSchema } } },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        const s = await getSession(deps.db, t.tenantId, request.params.id);
        if (!s) throw notFound(`session ${request.params.id}`);
        return sessionJson(s.view);
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/gateway-sessions/:id/kill',
      {
        schema: {
          tags: ['gateway'],
          summary: 'End a live session (its gateway closes it within a second)',
          params: sessionParams,
          response: { 202: z.object({ id: z.string(), killRequested: z.literal(true) }) },
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        const r = await requestKill(deps, t.tenantId, request.params.id, principalOf(request).operatorId);
        if (r === 'not_found') throw notFound(`session ${request.params.id}`);
        if (r === 'not_live') throw conflict('the session has already ended');
        return reply.status(202).send({ id: request.params.id, killRequested: true as const });
      },
    );

    app.get(
      '/api/v1/tenants/:tenant/gateway-sessions/:id/recording',
      {
        schema: {
          tags: ['gateway'],
          summary: 'The recording as a plain asciicast v2 file (playable with asciinema play); a live one up to its last flush',
          params: sessionParams,
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        const s = await getSession(deps.db, t.tenantId, request.params.id);
        if (!s) throw notFound(`session ${request.params.id}`);
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
    );
  };
