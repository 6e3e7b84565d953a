/**
 * What relying parties fetch to trust and check the credentials grants issue, per tenant:
 *
 * - public, unauthenticated and cache-friendly (ETag, short max-age): the SSH CA keys
 *   (TrustedUserCAKeys), the KRL (RevokedKeys), the X.509 CA certificates and CRLs, the JWKS;
 * - authenticated: token introspection (RFC 7662) for resource servers, the CA list, and the
 *   admin's create and rotate.
 *
 * The public routes take the tenant's slug. They never create anything, and "no such tenant" and
 * "no CA of this kind yet" are the same 404, so they reveal a tenant only through the CA material
 * itself (which names its tenant anyway). Building a KRL runs ssh-keygen and a CRL is signed: both
 * are cached per tenant/CA and rebuilt only when what they list changes (or the CRL gets old), so
 * polling hosts cost a few queries each.
 */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { decodeUtf8 } from '../../core/text.js';
import type { CaInfo, CaKind, CredentialEngines } from '../../credentials/index.js';
import type { Database } from '../../store/schema.js';
import { principalOf } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { requireTenant } from '../tenant-access.js';
import { findUndecodablePairs, textRefusal } from '../text-guard.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Cache-Control of a public route (the server's default is no-store). */
    cacheControl?: string;
  }
}

export interface CredentialRouteDeps {
  db: Kysely<Database>;
  credentials: CredentialEngines;
  clock: Clock;
}

/** CA material changes only on rotation; a minute of caching delays nothing that matters. */
const CA_CACHE = 'public, max-age=60';
/** Revocation lists: caches must revalidate (ETag) every time, so a revocation is never held back. */
const LIST_CACHE = 'public, no-cache';
/** A cached CRL is re-signed after this long (its nextUpdate is an hour). */
const CRL_REBUILD_MS = 10 * 60_000;
/** An introspection form holds one token: far below the JSON body limit. */
const FORM_LIMIT_BYTES = 16 * 1024;

const nothingPublished = () => new AppError('not_found', 'nothing is published here (no such tenant, or no CA of this kind yet)');
const iso = (d: Date | null) => (d ? d.toISOString() : null);
const caJson = (ca: CaInfo) => ({
  id: ca.id,
  kind: ca.kind,
  keyId: ca.keyId,
  algorithm: ca.algorithm,
  publicKey: ca.publicKey,
  status: ca.status,
  createdAt: ca.createdAt.toISOString(),
  notAfter: iso(ca.notAfter),
  rotatedAt: iso(ca.rotatedAt),
  retiredAt: iso(ca.retiredAt),
});

/** One value per id, rebuilt when its fingerprint changes or it is older than maxAgeMs; concurrent callers share a build. */
function fingerprintCache<T>(maxAgeMs: number) {
  const entries = new Map<string, { key: string; at: number; value: Promise<T> }>();
  return (id: string, key: string, now: number, build: () => Promise<T>): Promise<T> => {
    const hit = entries.get(id);
    if (hit && hit.key === key && now - hit.at < maxAgeMs) return hit.value;
    const value = build();
    entries.set(id, { key, at: now, value });
    value.catch(() => {
      if (entries.get(id)?.value === value) entries.delete(id);
    });
    return value;
  };
}

const tagOf = (data: string | Buffer) => `"${createHash('sha256').update(data).digest('base64url').slice(0, 32)}"`;

/**
 * Sends with an ETag and answers 304 when the client already has it. Without `contentKey` the tag
 * is strong (these bytes). With it the tag is weak and names the content: a KRL rebuilt by another
 * server process (or after a restart) carries a new timestamp but lists the same keys, and hosts
 * polling behind a load balancer should still get their 304.
 */
function sendCacheable(request: FastifyRequest, reply: FastifyReply, type: string, body: string | Buffer, contentKey?: string) {
  const etag = contentKey === undefined ? tagOf(body) : `W/${tagOf(contentKey)}`;
  reply.header('etag', etag);
  const seen = request.headers['if-none-match'];
  // If-None-Match compares weakly (RFC 9110 13.1.2).
  const opaque = etag.replace(/^W\//, '');
  if (typeof seen === 'string' && seen.split(',').some((t) => t.trim().replace(/^W\//, '') === opaque)) {
    return reply.code(304).send();
  }
  return reply.type(type).send(body);
}

export const credentialRoutes =
  (deps: CredentialRouteDeps): RouteModule =>
  (app) => {
    const { credentials: engines } = deps;
    const krls = fingerprintCache<Buffer>(Number.POSITIVE_INFINITY);
    const crls = fingerprintCache<{ der: Buffer; pem: string }>(CRL_REBUILD_MS);

    // Runs after the server-wide hook that marks every response no-store.
    app.addHook('onSend', async (request, reply, payload) => {
      const cache = request.routeOptions.config?.cacheControl;
      if (cache && reply.statusCode < 400) reply.header('cache-control', cache);
      return payload;
    });

    // RFC 7662 clients post forms; parsed only for the routes of this module. Bytes that are not
    // UTF-8 (raw or percent-encoded) are refused, as in a query, not turned into U+FFFD.
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_req, raw, done) => {
      const bytes = raw as Buffer;
      if (bytes.length > FORM_LIMIT_BYTES) {
        done(new AppError('payload_too_large', `a form body is larger than ${FORM_LIMIT_BYTES / 1024} KiB`), undefined);
        return;
      }
      const text = decodeUtf8(bytes);
      if (text === null) {
        done(textRefusal({ path: 'body', message: 'is not valid UTF-8 text' }), undefined);
        return;
      }
      const undecodable = findUndecodablePairs(text, 'body');
      if (undecodable) done(textRefusal(undecodable), undefined);
      else done(null, Object.fromEntries(new URLSearchParams(text)));
    });

    async function tenantIdOf(slug: string): Promise<string> {
      const row = await deps.db.selectFrom('tenants').select('id').where('slug', '=', slug).executeTakeFirst();
      if (!row) throw nothingPublished();
      return row.id;
    }

    async function publishedOf(slug: string, kind: CaKind) {
      const tenantId = await tenantIdOf(slug);
      const cas = await engines.cas.published(tenantId, kind);
      if (cas.length === 0) throw nothingPublished();
      return { tenantId, cas };
    }

    /** What a CRL lists: rebuilt when this changes. */
    async function revokedKey(caId: string): Promise<string> {
      return (await engines.issued.revokedForCa(caId)).map((c) => c.serial).join(',');
    }

    async function crlOf(ca: CaInfo) {
      return crls(ca.id, await revokedKey(ca.id), +deps.clock.now(), async () => {
        const doc = await engines.crl.build(ca.id);
        return { der: doc.der, pem: doc.pem };
      });
    }

    app.route({
      ...routeOf(endpoints.sshCaKeys, { config: { cacheControl: CA_CACHE } }),
      handler: async (request, reply) => {
        const { cas } = await publishedOf(request.params.tenant, 'ssh');
        return sendCacheable(request, reply, 'text/plain; charset=utf-8', cas.map((ca) => `${ca.publicKey}\n`).join(''));
      },
    });

    app.route({
      ...routeOf(endpoints.sshKrl, { config: { cacheControl: LIST_CACHE } }),
      handler: async (request, reply) => {
        const tenantId = await tenantIdOf(request.params.tenant);
        await engines.cas.retireDrained(tenantId);
        const all = await engines.cas.list(tenantId, 'ssh');
        if (all.length === 0) throw nothingPublished();
        // The KRL lists revoked serials of live CAs and the keys of retired ones: rebuilt when either changes.
        const parts: string[] = [];
        for (const ca of all) parts.push(`${ca.id}:${ca.status}:${ca.status === 'retired' ? '' : await revokedKey(ca.id)}`);
        const listed = parts.join(';');
        const krl = await krls(tenantId, listed, +deps.clock.now(), () => engines.krl.build(tenantId));
        reply.header('content-disposition', 'attachment; filename="timebox_revoked_keys"');
        return sendCacheable(request, reply, 'application/octet-stream', krl, `krl:${listed}`);
      },
    });

    app.route({
      ...routeOf(endpoints.x509CaCertificates, { config: { cacheControl: CA_CACHE } }),
      handler: async (request, reply) => {
        const { cas } = await publishedOf(request.params.tenant, 'x509');
        return sendCacheable(request, reply, 'application/x-pem-file', cas.map((ca) => ca.publicKey.trim() + '\n').join(''));
      },
    });

    app.route({
      ...routeOf(endpoints.x509Crl, { config: { cacheControl: LIST_CACHE } }),
      handler: async (request, reply) => {
        const { cas } = await publishedOf(request.params.tenant, 'x509');
        const { format, keyId } = request.query;
        const chosen = keyId === undefined ? (format === 'pem' ? cas : [cas[0]!]) : cas.filter((ca) => ca.keyId === keyId);
        if (chosen.length === 0) throw nothingPublished();
        const docs = await Promise.all(chosen.map(crlOf));
        if (format === 'pem') return sendCacheable(request, reply, 'application/x-pem-file', docs.map((d) => d.pem.trim() + '\n').join(''));
        return sendCacheable(request, reply, 'application/pkix-crl', docs[0]!.der);
      },
    });

    app.route({
      ...routeOf(endpoints.jwks, { config: { cacheControl: CA_CACHE } }),
      handler: async (request, reply) => {
        const { cas } = await publishedOf(request.params.tenant, 'jwt');
        const jwks = { keys: cas.map((ca) => JSON.parse(ca.publicKey) as Record<string, unknown>) };
        return sendCacheable(request, reply, 'application/json; charset=utf-8', JSON.stringify(jwks));
      },
    });

    app.route({
      ...routeOf(endpoints.introspectToken),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        return engines.tokens.introspect(t.tenantId, request.body.token);
      },
    });

    app.route({
      ...routeOf(endpoints.listCas),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        return { items: (await engines.cas.list(t.tenantId)).map(caJson) };
      },
    });

    app.route({
      ...routeOf(endpoints.createCa),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const p = principalOf(request);
        return caJson(await engines.cas.ensureActive(t.tenantId, request.params.kind, { type: 'operator', id: p.operatorId }));
      },
    });

    app.route({
      ...routeOf(endpoints.rotateCa),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const p = principalOf(request);
        const r = await engines.cas.rotate(t.tenantId, request.params.kind, { type: 'operator', id: p.operatorId });
        return { active: caJson(r.active), retiring: r.retiring ? caJson(r.retiring) : null };
      },
    });
  };
