import { z } from 'zod';
import { endpoint } from '../endpoint.js';
import { text, tenantParamsSchema } from '../fields.js';

export const caKinds = ['ssh', 'x509', 'jwt'] as const;
export const kindParams = tenantParamsSchema.extend({ kind: z.enum(caKinds) });
export const caSchema = z.object({
  id: z.string(),
  kind: z.enum(caKinds),
  keyId: z.string(),
  algorithm: z.string(),
  publicKey: z.string(),
  status: z.string(),
  createdAt: z.string(),
  notAfter: z.string().nullable(),
  rotatedAt: z.string().nullable(),
  retiredAt: z.string().nullable(),
});
export const introspectionSchema = z.object({
  active: z.boolean(),
  token_type: z.string().optional(),
  sub: z.string().optional(),
  scope: z.string().optional(),
  iss: z.string().optional(),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  exp: z.number().optional(),
  iat: z.number().optional(),
  nbf: z.number().optional(),
  jti: z.string().optional(),
  grant_id: z.string().optional(),
});

/** What every public distribution endpoint shares. */
const params = { params: tenantParamsSchema, tags: ['credentials'] } as const;

export const credentialEndpoints = {
  sshCaKeys: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/ca/ssh',
    auth: 'public',
    ...params,
    summary: "The tenant's SSH CA public keys, one per line: a host's TrustedUserCAKeys file (public)",
  }),
  sshKrl: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/ca/ssh/krl',
    auth: 'public',
    ...params,
    summary: "The tenant's OpenSSH KRL (binary): a host's RevokedKeys file (public)",
  }),
  x509CaCertificates: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/ca/x509',
    auth: 'public',
    ...params,
    summary: "The tenant's X.509 client CA certificates (PEM bundle) to trust (public)",
  }),
  x509Crl: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/ca/x509/crl',
    auth: 'public',
    ...params,
    summary: 'X.509 CRL (public): DER of the issuing CA (or ?keyId=), or with ?format=pem the CRLs of every published CA',
    query: z.strictObject({
      format: z.enum(['der', 'pem']).default('der'),
      keyId: text(200).optional().describe('A published CA (its subject key identifier); default the issuing CA'),
    }),
  }),
  jwks: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/.well-known/jwks.json',
    auth: 'public',
    ...params,
    summary: "The tenant's token signing keys (JWKS): the active key and retiring ones still in use (public)",
  }),
  introspectToken: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/tokens/introspect',
    auth: 'session',
    tags: ['credentials'],
    summary: 'RFC 7662 token introspection for resource servers (form or JSON { token }); inactive says nothing about why',
    params: tenantParamsSchema,
    body: z.object({
      token: z.string({ error: 'token is required' }).min(1, { error: 'token is required' }).max(16 * 1024),
      token_type_hint: text(64).optional(),
    }),
    response: { 200: introspectionSchema },
  }),
  listCas: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/ca',
    auth: 'session',
    tags: ['credentials'],
    summary: "The tenant's certificate authorities, every status (no private keys)",
    params: tenantParamsSchema,
    response: { 200: z.object({ items: z.array(caSchema) }) },
  }),
  createCa: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/ca/:kind',
    auth: 'session',
    tags: ['credentials'],
    summary: "Create the tenant's CA of this kind if it has none (idempotent), e.g. to set up hosts before the first grant",
    params: kindParams,
    response: { 200: caSchema },
  }),
  rotateCa: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/ca/:kind/rotate',
    auth: 'session',
    tags: ['credentials'],
    summary: 'Start issuing from a new CA; the previous one stays published until its credentials have ended',
    params: kindParams,
    response: { 200: z.object({ active: caSchema, retiring: caSchema.nullable() }) },
  }),
};
