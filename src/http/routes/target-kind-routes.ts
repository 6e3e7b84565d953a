/** The target kinds this server knows, with their config schemas as JSON Schema (for forms). */
import { endpoints } from '../../api/endpoints.js';
import type { AppDeps } from '../../app/deps.js';
import { describeKind } from '../../connectors/kind-catalog.js';
import { routeOf } from '../route-of.js';
import type { RouteModule } from '../server.js';

export const targetKindRoutes =
  (deps: AppDeps): RouteModule =>
  (app) => {
    app.route({
      ...routeOf(endpoints.listTargetKinds),
      handler: async () => ({ items: deps.connectors.definitions().map(describeKind) }),
    });
  };
