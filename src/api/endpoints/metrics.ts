import { endpoint } from '../endpoint.js';

export const metricsEndpoints = {
  metrics: endpoint({
    method: 'GET',
    path: '/metrics',
    auth: 'metrics',
    tags: ['metrics'],
    hide: true,
  }),
};
