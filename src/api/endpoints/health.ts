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
    response: { 200: z.object({ status: z.literal('ok') }), 503: z.object({ status: z.literal('unavailable') }) },
  }),
};
