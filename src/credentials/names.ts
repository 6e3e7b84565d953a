/**
 * Validation of the names that go into credentials: SSH principals, subjects (key ids, CN),
 * validity windows. Shared by the SSH, X.509 and token engines so the rules and messages agree.
 */
import { badRequest } from '../core/errors.js';

export const MAX_PRINCIPALS = 32;
export const MAX_PRINCIPAL_LENGTH = 64;

/**
 * SSH principals are matched literally against user names by sshd. `,` would split the list
 * ssh-keygen receives, whitespace and control characters break authorized_principals files and
 * logs, and `*`/`?` are wildcards in the places principals are matched as patterns.
 */
export function validatePrincipals(principals: readonly string[]): string[] {
  if (!Array.isArray(principals) || principals.length === 0) {
    throw badRequest('at least one principal is required (a certificate without principals would be valid for any user on some hosts)');
  }
  if (principals.length > MAX_PRINCIPALS) throw badRequest(`at most ${MAX_PRINCIPALS} principals are allowed`);
  const seen = new Set<string>();
  for (const p of principals) {
    const shown = JSON.stringify(String(p).slice(0, 80));
    if (typeof p !== 'string' || p.length === 0) throw badRequest('a principal must be a non-empty string');
    if (p.length > MAX_PRINCIPAL_LENGTH) throw badRequest(`principal ${shown} is longer than ${MAX_PRINCIPAL_LENGTH} characters`);
    if (p.includes(',')) throw badRequest(`principal ${shown} contains ',' (it would split into several principals)`);
    if (/\s/u.test(p)) throw badRequest(`principal ${shown} contains whitespace`);
    if (/\p{Cc}/u.test(p)) throw badRequest(`principal ${shown} contains control characters`);
    if (/[*?]/.test(p)) throw badRequest(`principal ${shown} contains a wildcard ('*' or '?')`);
    if (seen.has(p)) throw badRequest(`principal ${shown} is listed twice`);
    seen.add(p);
  }
  return [...principals];
}

/** Who a credential is for; appears in SSH key ids, X.509 subjects and token `sub`. */
export function validateSubject(subject: string, max = 128): string {
  if (typeof subject !== 'string' || subject.trim() === '') throw badRequest('the credential subject is required');
  if (subject.length > max) throw badRequest(`the credential subject is longer than ${max} characters`);
  if (/\p{Cc}/u.test(subject)) throw badRequest('the credential subject contains control characters');
  if (subject !== subject.trim()) throw badRequest('the credential subject starts or ends with whitespace');
  return subject;
}

/** Certificates and tokens have one-second resolution; never round the end past the grant's end. */
export interface SecondsWindow {
  notBefore: Date;
  notAfter: Date;
}

export function validityWindow(notBefore: Date, notAfter: Date, now: Date): SecondsWindow {
  if (!(notBefore instanceof Date) || !(notAfter instanceof Date) || isNaN(+notBefore) || isNaN(+notAfter)) {
    throw badRequest('notBefore and notAfter must be valid dates');
  }
  const start = new Date(Math.floor(+notBefore / 1000) * 1000);
  const end = new Date(Math.floor(+notAfter / 1000) * 1000);
  if (+end <= +start) throw badRequest('the validity window must end at least one second after it starts');
  if (+end <= +now) throw badRequest('the validity window has already ended');
  return { notBefore: start, notAfter: end };
}
