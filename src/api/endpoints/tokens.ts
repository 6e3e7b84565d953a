import { z } from 'zod';
import { endpoint } from '../endpoint.js';
import { name } from '../fields.js';

export const createBody = z.strictObject({
  name: name(100),
  expiresInDays: z.number().int().min(1).max(3650).optional().describe('Omit for a token that does not expire'),
});
export const tokenView = z.object({
  id: z.guid(),
  name: z.string(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().nullable(),
  lastUsedAt: z.iso.datetime().nullable(),
});
export const created = z.object({
  id: z.guid(),
  name: z.string(),
  token: z.string().describe('Shown only in this response; store it now'),
  expiresAt: z.iso.datetime().nullable(),
});

export const tokenEndpoints = {
  createToken: endpoint({
    method: 'POST',
    path: '/api/v1/tokens',
    auth: 'session',
    tags: ['tokens'],
    summary: 'Create a personal API token',
    body: createBody,
    response: { 201: created },
  }),
  listTokens: endpoint({
    method: 'GET',
    path: '/api/v1/tokens',
    auth: 'session',
    tags: ['tokens'],
    summary: 'My live API tokens (no secrets)',
    response: { 200: z.object({ items: z.array(tokenView) }) },
  }),
  revokeToken: endpoint({
    method: 'DELETE',
    path: '/api/v1/tokens/:id',
    auth: 'session',
    tags: ['tokens'],
    summary: 'Revoke one of my tokens',
    params: z.object({ id: z.guid() }),
    response: { 204: z.null() },
  }),
};
