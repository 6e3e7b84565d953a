import { endpoint } from '../endpoint.js';
import { tenantParamsSchema } from '../fields.js';

export const eventEndpoints = {
  events: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/events',
    auth: 'session',
    tags: ['events'],
    summary: 'Server-sent events: `grant` {id, state, expiresAt, lastError, now} whenever a grant you can see changes',
    description: 'text/event-stream. A `hello` event carries the server time (`now`) first; a `session` event tells the client that its session ended just before the stream closes.',
    params: tenantParamsSchema,
  }),
};
