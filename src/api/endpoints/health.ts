import { z } from 'zod';
import { endpoint } from '../endpoint.js';

export const healthEndpoints = {
  openapi: endpoint({
    method: 'GET',
    path: '/api/openapi.json',
    auth: 'public',
    tags: ['health'],
    hide: true,
  }),
  health: endpoint({
    method: 'GET',
    path: '/healthz',
    auth: 'public',
    tags: ['health'],
    summary: 'Liveness and database check',
    // Load balancers and probes may add parameters of their own (a cache-buster): ignored.
    query: z.object({}).passthrough(),
    response: { 200: z.object({ status: z.literal('ok') }), 503: z.object({ status: z.literal('unavailable') }) },
  }),
};
