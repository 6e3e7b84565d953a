/** The signed-in operator's authenticator app (TOTP): enrol, confirm, remove; recovery codes; a platform admin's reset. */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import type { FastifyRequest } from 'fastify';
import { forbidden } from '../../core/errors.js';
import { assertWholeAccount } from '../whole-account.js';
import type { Totp } from '../../auth/totp.js';
import type { Principal } from '../../auth/tokens.js';
import { principalOf } from '../auth-hook.js';
import type { ZodApp } from '../server.js';

/** Neither a script's API token nor one tenant's single sign-on may change the second factor. */
function sessionOf(request: FastifyRequest): Principal {
  const principal = principalOf(request);
  assertWholeAccount(principal, 'Managing an authenticator app');
  return principal;
}

export function mfaRoutes(deps: { totp: Totp }) {
  const { totp } = deps;
  return (app: ZodApp) => {
    app.route({
      ...routeOf(endpoints.startTotpEnrolment),
      handler: async (request) => totp.startEnrolment(sessionOf(request).operatorId),
    });

    app.route({
      ...routeOf(endpoints.confirmTotp),
      handler: async (request, reply) => {
        const codes = await totp.confirmEnrolment(sessionOf(request).operatorId, request.body.code);
        return reply.header('cache-control', 'no-store').send({ recoveryCodes: codes });
      },
    });

    app.route({
      ...routeOf(endpoints.newRecoveryCodes),
      handler: async (request, reply) => {
        const codes = await totp.replaceCodes(sessionOf(request).operatorId, request.body.code);
        return reply.header('cache-control', 'no-store').send({ recoveryCodes: codes });
      },
    });

    app.route({
      ...routeOf(endpoints.resetOperatorMfa),
      handler: async (request, reply) => {
        const principal = sessionOf(request);
        if (!principal.platformAdmin) throw forbidden("only a platform administrator can reset another operator's authenticator app");
        if (principal.operatorId === request.params.operatorId) throw forbidden('remove your own app from Settings → Security with a code or a recovery code');
        await totp.reset(request.params.operatorId, { operatorId: principal.operatorId }, request.body.reason);
        return reply.status(204).send(null);
      },
    });

    app.route({
      ...routeOf(endpoints.removeTotp),
      handler: async (request, reply) => {
        await totp.disable(sessionOf(request).operatorId, request.body.code);
        return reply.status(204).send(null);
      },
    });
  };
}
