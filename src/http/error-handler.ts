/**
 * One error shape for every failure: `{ error: { code, message, details? } }`. Messages are
 * meant for the person who made the request; anything unexpected becomes a bare 500 whose real
 * cause (stack, SQL) only goes to the log.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, StoreUnavailableError } from '../core/errors.js';
import { issuesAsSentences, withoutLooserBounds } from '../core/zod-issues.js';

export const BODY_LIMIT_BYTES = 256 * 1024;

export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

interface Mapped {
  status: number;
  code: string;
  message: string;
  details?: unknown;
}

const contextNames: Record<string, string> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' };

/** `/roles/0/name` in `body` → `body.roles[0].name`. */
function fieldPath(context: string | undefined, instancePath: string): string {
  const root = contextNames[context ?? ''] ?? 'request';
  const parts = instancePath.split('/').filter(Boolean);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : `${acc}.${p}`), root);
}

/** Zod's "Invalid input: expected number, received string" → "expected number, received string". */
function problem(message: string): string {
  if (/received undefined$/.test(message)) return 'is required';
  return message.replace(/^Invalid input: /, '');
}

function validationError(err: FastifyError & { validationContext?: string }): Mapped {
  const issues = withoutLooserBounds(
    (err.validation ?? []).map((v) => ({
      path: fieldPath(err.validationContext, v.instancePath),
      code: v.keyword,
      maximum: (v.params as { maximum?: unknown } | undefined)?.maximum,
      message: problem(v.message ?? 'is invalid'),
    })),
  ).map(({ path, message }) => ({ path, message }));
  // The message reads as sentences ("Account name must be at most 64 characters."); forms place
  // each issue at its field by path.
  return { status: 400, code: 'bad_request', message: issuesAsSentences(issues), details: { issues } };
}

/** The longest path parameter the router passes on to a route (Fastify's default is 100). */
export const MAX_PATH_PARAM_LENGTH = 2_000;

const byFastifyCode: Record<string, Omit<Mapped, 'details'>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'bad_request', message: 'request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'bad_request', message: 'request body is empty but declared as JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', message: `request body is larger than ${BODY_LIMIT_BYTES / 1024} KiB` },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: 'unsupported content type; send application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_request', message: 'request body length does not match Content-Length' },
};

const codeByStatus: Record<number, string> = { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 413: 'payload_too_large', 415: 'unsupported_media_type', 429: 'rate_limited' };

export function mapError(err: unknown): Mapped | null {
  if (err instanceof AppError) return { status: err.status, code: err.code, message: err.message, details: err.details };
  if (err instanceof StoreUnavailableError) return { status: err.status, code: err.code, message: err.message };
  if (typeof err !== 'object' || err === null) return null;
  if (hasZodFastifySchemaValidationErrors(err)) return validationError(err as FastifyError);
  const e = err as Partial<FastifyError> & { code?: unknown };
  // Postgres unique violation that no caller turned into a precise message.
  if (e.code === '23505') return { status: 409, code: 'conflict', message: 'already exists' };
  if (typeof e.code === 'string' && byFastifyCode[e.code]) return { ...byFastifyCode[e.code]! };
  if (e.statusCode === 429) return { status: 429, code: 'rate_limited', message: 'too many requests; try again later' };
  // Other client errors raised by Fastify itself (FST_*) carry messages written for people.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 && typeof e.code === 'string' && e.code.startsWith('FST_')) {
    return { status: e.statusCode, code: codeByStatus[e.statusCode] ?? 'bad_request', message: e.message ?? 'bad request' };
  }
  return null;
}

export function body(m: Mapped): ErrorBody {
  return { error: m.details === undefined ? { code: m.code, message: m.message } : { code: m.code, message: m.message, details: m.details } };
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const mapped = mapError(err);
    if (!mapped) {
      request.log.error({ err }, 'unhandled error');
      return reply.status(500).send(body({ status: 500, code: 'internal', message: 'internal error' }));
    }
    if (mapped.status >= 500) request.log.error({ err }, mapped.message);
    else request.log.info({ code: mapped.code, status: mapped.status }, mapped.message);
    return reply.status(mapped.status).send(body(mapped));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = (request.url.split('?')[0] ?? '').slice(0, 200);
    return reply.status(404).send(body({ status: 404, code: 'not_found', message: `no route ${request.method} ${path}` }));
  });
}

/**
 * Errors the router raises before any hook or route runs: a path whose %-escapes do not decode
 * (FST_ERR_BAD_URL), a path parameter over MAX_PATH_PARAM_LENGTH (FST_ERR_MAX_PARAM_LENGTH).
 * Answered in the API's error shape like every other refusal; returns the status sent.
 */
export function frameworkErrorHandler(err: Error & { code?: string }, request: FastifyRequest, reply: FastifyReply): number {
  const mapped: Mapped =
    err.code === 'FST_ERR_BAD_URL'
      ? { status: 400, code: 'bad_request', message: 'the URL is not valid: a %-escape in its path does not decode to text' }
      : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? { status: 414, code: 'uri_too_long', message: `the URL is too long: a part of its path is longer than ${MAX_PATH_PARAM_LENGTH.toLocaleString('en-US')} characters` }
        : { status: 500, code: 'internal', message: 'internal error' };
  if (mapped.status >= 500) request.log.error({ err }, 'router error');
  void reply.status(mapped.status).send(body(mapped));
  return mapped.status;
}

/**
 * Requests Node's HTTP parser refuses before any route (a malformed request line, oversized
 * headers, a request that never finished) are answered in the API's error shape too, then the
 * connection is closed: after a parse error nothing more on it can be trusted.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request_timeout', 'the request did not arrive in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'headers_too_large', 'the request headers are too large']
        : [400, 'bad_request', 'the request is not valid HTTP'];
  const text = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(text)}\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(err);
}
