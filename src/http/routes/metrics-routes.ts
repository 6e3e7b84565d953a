/**
 * GET /metrics: the Prometheus text exposition, for a scraper holding TIMEBOX_METRICS_TOKEN.
 * Not a session route: without the setting it does not exist (404), and a wrong or missing
 * token is a 401 before anything is read.
 */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import { AppError } from '../../core/errors.js';
import type { Metrics } from '../../metrics/metrics.js';
import { scrapeAccess } from '../../metrics/token.js';
import type { RouteModule } from '../server.js';

/** `metrics` is null exactly when no token is set (the server then records none). */
export function metricsRoutes(deps: { metrics: Metrics | null; token: string | undefined }): RouteModule {
  return (app) => {
    app.route({
      ...routeOf(endpoints.metrics),
      handler: async (request, reply) => {
      const access = scrapeAccess(deps.token, request.headers.authorization);
      if (access === 'off' || !deps.metrics) throw new AppError('not_found', 'no route GET /metrics');
      if (access === 'denied') {
        reply.header('www-authenticate', 'Bearer realm="timebox-metrics"');
        throw new AppError('unauthorized', 'the metrics token is missing or wrong');
      }
      const { contentType, body } = await deps.metrics.scrape();
      return reply.type(contentType).send(body);
    },
    });
  };
}
