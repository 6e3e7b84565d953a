import { z } from 'zod';
import { endpoint } from '../endpoint.js';
import { reason } from '../fields.js';

// Loose on purpose (spaces, wrong length): the TOTP module answers those with its own messages.
export const codeBody = z.strictObject({ code: z.string().max(32).describe('The 6-digit code the app shows now (removing the app: or a recovery code)') });
export const recoveryCodes = z.object({
  recoveryCodes: z.array(z.string()).describe('Single-use codes for signing in (or removing the app) without it; shown only in this response'),
});
export const enrolment = z.object({
  secret: z.string().describe('Base32 secret, to type into the app by hand; shown only in this response'),
  otpauthUri: z.string().describe('otpauth:// URI, for a QR code'),
});

export const mfaEndpoints = {
  startTotpEnrolment: endpoint({
    method: 'POST',
    path: '/api/v1/me/mfa/totp',
    auth: 'session',
    tags: ['auth'],
    summary: 'Start enrolling an authenticator app; confirm with a code to finish (a new start replaces an unconfirmed one)',
    response: { 200: enrolment },
  }),
  confirmTotp: endpoint({
    method: 'POST',
    path: '/api/v1/me/mfa/totp/confirm',
    auth: 'session',
    tags: ['auth'],
    summary: 'Finish enrolment with a code from the app; sign-in asks for a code from then on. Answers ten recovery codes, once',
    body: codeBody,
    response: { 200: recoveryCodes },
  }),
  newRecoveryCodes: endpoint({
    method: 'POST',
    path: '/api/v1/me/mfa/recovery-codes',
    auth: 'session',
    tags: ['auth'],
    summary: 'Replace your recovery codes (the old ones stop working); needs a current code from the app',
    body: codeBody,
    response: { 200: recoveryCodes },
  }),
  resetOperatorMfa: endpoint({
    method: 'DELETE',
    path: '/api/v1/operators/:operatorId/mfa',
    auth: 'session',
    tags: ['auth'],
    summary: "Platform administrators: remove an operator's authenticator app and recovery codes (both lost); audited with the reason",
    params: z.object({ operatorId: z.guid({ error: 'must be an operator id (UUID)' }) }),
    body: z.strictObject({ reason: reason(1000).min(10, { error: 'say why (at least 10 characters): how the person was identified' }) }),
    response: { 204: z.null() },
  }),
  removeTotp: endpoint({
    method: 'DELETE',
    path: '/api/v1/me/mfa/totp',
    auth: 'session',
    tags: ['auth'],
    summary: 'Remove the authenticator app; needs a current code from it, or a recovery code when the app is lost',
    body: codeBody,
    response: { 204: z.null() },
  }),
};
