/** The signed-in operator's authenticator app (TOTP): enrol, confirm, remove; recovery codes; a platform admin's reset. */
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { forbidden } from '../../core/errors.js';
import type { Totp } from '../../auth/totp.js';
import type { Principal } from '../../auth/tokens.js';
import { principalOf } from '../auth-hook.js';
import type { ZodApp } from '../server.js';
import { reason } from '../schemas.js';

// Loose on purpose (spaces, wrong length): the TOTP module answers those with its own messages.
const codeBody = z.object({ code: z.string().max(32).describe('The 6-digit code the app shows now (removing the app: or a recovery code)') });
const recoveryCodes = z.object({
  recoveryCodes: z.array(z.string()).describe('Single-use codes for signing in (or removing the app) without it; shown only in this response'),
});
const enrolment = z.object({
  secret: z.string().describe('Base32 secret, to type into the app by hand; shown only in this response'),
  otpauthUri: z.string().describe('otpauth:// URI, for a QR code'),
});

/** An API token is for scripts; whoever holds one must not be able to change the second factor. */
function sessionOf(request: FastifyRequest): Principal {
  const principal = principalOf(request);
  if (principal.kind !== 'session') throw forbidden('manage your authenticator app from a signed-in session, not with an API token');
  return principal;
}

export function mfaRoutes(deps: { totp: Totp }) {
  const { totp } = deps;
  return (app: ZodApp) => {
    app.post(
      '/api/v1/me/mfa/totp',
      {
        schema: {
          tags: ['auth'],
          summary: 'Start enrolling an authenticator app; confirm with a code to finish (a new start replaces an unconfirmed one)',
          response: { 200: enrolment },
        },
      },
      async (request) => totp.startEnrolment(sessionOf(request).operatorId),
    );

    app.post(
      '/api/v1/me/mfa/totp/confirm',
      {
        schema: {
          tags: ['auth'],
          summary: 'Finish enrolment with a code from the app; sign-in asks for a code from then on. Answers ten recovery codes, once',
          body: codeBody,
          response: { 200: recoveryCodes },
        },
      },
      async (request, reply) => {
        const codes = await totp.confirmEnrolment(sessionOf(request).operatorId, request.body.code);
        return reply.header('cache-control', 'no-store').send({ recoveryCodes: codes });
      },
    );

    app.post(
      '/api/v1/me/mfa/recovery-codes',
      {
        schema: {
          tags: ['auth'],
          summary: 'Replace your recovery codes (the old ones stop working); needs a current code from the app',
          body: codeBody,
          response: { 200: recoveryCodes },
        },
      },
      async (request, reply) => {
        const codes = await totp.replaceCodes(sessionOf(request).operatorId, request.body.code);
        return reply.header('cache-control', 'no-store').send({ recoveryCodes: codes });
      },
    );

    app.delete(
      '/api/v1/operators/:operatorId/mfa',
      {
        schema: {
          tags: ['auth'],
          summary: "Platform administrators: remove an operator's authenticator app and recovery codes (both lost); audited with the reason",
          params: z.object({ operatorId: z.uuid({ error: 'must be an operator id (UUID)' }) }),
          body: z.strictObject({ reason: reason(1000).min(10, { error: 'say why (at least 10 characters): how the person was identified' }) }),
          response: { 204: z.null() },
        },
      },
      async (request, reply) => {
        const principal = sessionOf(request);
        if (!principal.platformAdmin) throw forbidden("only a platform administrator can reset another operator's authenticator app");
        if (principal.operatorId === request.params.operatorId) throw forbidden('remove your own app from Settings → Security with a code or a recovery code');
        await totp.reset(request.params.operatorId, { operatorId: principal.operatorId }, request.body.reason);
        return reply.status(204).send(null);
      },
    );

    app.delete(
      '/api/v1/me/mfa/totp',
      {
        schema: {
          tags: ['auth'],
          summary: 'Remove the authenticator app; needs a current code from it, or a recovery code when the app is lost',
          body: codeBody,
          response: { 204: z.null() },
        },
      },
      async (request, reply) => {
        await totp.disable(sessionOf(request).operatorId, request.body.code);
        return reply.status(204).send(null);
      },
    );
  };
}
