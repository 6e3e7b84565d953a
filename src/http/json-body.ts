/**
 * JSON request bodies read as bytes and decoded strictly: a body that is not UTF-8 is a 400 and a
 * declared charset other than UTF-8 a 415, where the default parser turned such bytes into U+FFFD
 * and stored them (a name of "caf\uFFFD" for "café" sent as Latin-1). The text then goes to
 * Fastify's own JSON parser (its limits and prototype-poisoning checks unchanged).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';
import { decodeUtf8 } from '../core/text.js';
import { textRefusal } from './text-guard.js';

/** The charset a Content-Type names, lower-cased, or null when it names none. */
function charsetOf(contentType: string | undefined): string | null {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return m ? m[1]!.toLowerCase() : null;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Replaces the instance's JSON parser. `onText` sees the decoded body before parsing (the agent
 * channel keeps it for the signature check).
 */
export function strictJsonBodies(app: FastifyInstance, onText?: (request: FastifyRequest, text: string) => void): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  if (app.hasContentTypeParser('application/json')) app.removeContentTypeParser('application/json');
  // No route takes plain text: such a body is the wrong type of request (415, as a form is), not
  // a JSON object that happens to be text.
  if (app.hasContentTypeParser('text/plain')) app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, raw, done) => {
    // The bytes are read as they came: a compressed body would be judged as broken text.
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') {
      // Named back only as the token characters it may hold: the header is the sender's text.
      const named = encoding.replace(/[^a-z0-9._-]/g, '').slice(0, 40) || 'differently';
      done(new AppError('unsupported_media_type', `the body is ${named}-encoded; send the JSON uncompressed`), undefined);
      return;
    }
    const charset = charsetOf(request.headers['content-type']);
    if (charset !== null && charset !== 'utf-8' && charset !== 'utf8') {
      done(new AppError('unsupported_media_type', `the body is declared as ${charset}; send JSON in UTF-8 (charset=utf-8, or no charset)`), undefined);
      return;
    }
    const text = decodeUtf8(raw as Buffer);
    if (text === null) {
      done(textRefusal({ path: 'body', message: 'is not valid UTF-8 text' }), undefined);
      return;
    }
    onText?.(request, text);
    parseJson(request, text, (err, body) => {
      // Valid JSON refused for what it would do to objects built from it (Fastify's parser says
      // only "invalid"): said so, not "not JSON". Parsed again only on this error path.
      if (err && isJson(text)) {
        done(textRefusal({ path: 'body', message: 'has a field named "__proto__" (or "constructor" holding "prototype"), which is never accepted' }), undefined);
        return;
      }
      done(err, body);
    });
  });
}
