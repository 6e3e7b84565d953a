/** Turns zod issues into sentences a person can act on: one line per field. */
import { z } from 'zod';
import { badRequest, type AppError } from './errors.js';
import { shownKey } from './text.js';

export function describeIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string {
  return issues
    .map((i) => {
      const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}

const kindOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : typeof v === 'string' ? 'text' : typeof v === 'number' ? 'a number' : typeof v === 'boolean' ? 'true or false' : typeof v;

const expectedKinds: Record<string, string> = {
  string: 'text', number: 'a number', int: 'a whole number', bigint: 'a whole number', boolean: 'true or false', object: 'an object',
  array: 'a list', null: 'null', date: 'a date', record: 'an object', tuple: 'a list', literal: 'a fixed value',
};

const formats: Record<string, string> = {
  uuid: 'an id (UUID)', guid: 'an id (UUID)', email: 'an email address', url: 'a URL', datetime: 'a date and time such as 2026-05-01T10:00:00Z',
  date: 'a date such as 2026-05-01', time: 'a time such as 10:00:00', ipv4: 'an IPv4 address', ipv6: 'an IPv6 address', base64: 'base64 text', base64url: 'base64url text',
};

const unit = (origin: string | undefined, n: number | bigint) =>
  origin === 'string' ? `${n} character${n === 1 ? '' : 's'}` : origin === 'array' || origin === 'set' ? `${n} item${n === 1 ? '' : 's'}` : String(n);

/**
 * The message of an issue whose schema gave none: "must be a number, not text" rather than
 * "Invalid input: expected number, received string". Installed once for every schema
 * (`installIssueSentences`); messages written by a schema always win.
 */
export function issueSentence(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      // A POST sent without a body: say what to send.
      if (issue.input === null && issue.expected === 'object' && (issue.path?.length ?? 0) === 0) return 'must be a JSON object ({} when there is nothing to add), not empty';
      // A number of the wrong sort ("a number, not a number" says nothing): say which it is.
      if (typeof issue.input === 'number') {
        if (Number.isNaN(issue.input)) return `must be ${expectedKinds[issue.expected] ?? issue.expected}`;
        if (!Number.isFinite(issue.input) && (issue.expected === 'number' || issue.expected === 'int')) return `must be a finite number`;
        if (issue.expected === 'int' || issue.expected === 'bigint') return `must be a whole number, not ${issue.input}`;
      }
      return `must be ${expectedKinds[issue.expected] ?? issue.expected}, not ${kindOf(issue.input)}`;
    case 'too_small': {
      const { minimum, origin } = issue;
      if (origin === 'string' && Number(minimum) === 1) return 'must not be empty';
      if ((origin === 'array' || origin === 'set') && Number(minimum) === 1) return 'must have at least one item';
      return issue.inclusive === false ? `must be more than ${unit(origin, minimum)}` : `must be at least ${unit(origin, minimum)}`;
    }
    case 'too_big': {
      const { maximum, origin } = issue;
      return issue.inclusive === false ? `must be less than ${unit(origin, maximum)}` : `must be at most ${unit(origin, maximum)}`;
    }
    case 'invalid_format':
      if (issue.format === 'regex') return 'is not in the expected format';
      if (issue.format === 'starts_with' || issue.format === 'ends_with' || issue.format === 'includes') return 'is not in the expected format';
      return `must be ${formats[issue.format] ?? `in ${issue.format} format`}`;
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${JSON.stringify(issue.values[0])}` : `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `${issue.keys.length === 1 ? 'has an unknown field' : 'has unknown fields'} ${issue.keys.map(shownKey).join(', ')}`;
    case 'invalid_union':
      return 'does not match any of the accepted forms';
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'invalid_key':
      return 'has a field name that is not accepted';
    default:
      return undefined;
  }
}

/** Makes `issueSentence` zod's message for every schema without its own. Idempotent. */
export function installIssueSentences(): void {
  z.config({ customError: issueSentence });
}

/** One problem with one field of a request: where (`body.smtp.port`) and what (`must be …`). */
export interface FieldIssue {
  path: string;
  message: string;
}

/** `['smtp', 'port']` under `body` → `body.smtp.port`; indexes as `[0]`. */
export function issuePath(prefix: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, p) => {
    if (typeof p === 'number') return `${acc}[${p}]`;
    const key = String(p);
    const shown = shownKey(key);
    // A key with characters that show as nothing is shown escaped, in brackets.
    if (shown !== JSON.stringify(key)) return `${acc}[${shown}]`;
    return acc ? `${acc}.${key}` : key;
  }, prefix);
}

/**
 * A field over two upper bounds (its own and a whole number's safe limit) is told the tighter one
 * only: "must be at most 3650", not that and "at most 9007199254740991".
 */
export function withoutLooserBounds<T extends { path: string; code?: unknown; maximum?: unknown }>(issues: readonly T[]): T[] {
  const tightest = new Map<string, number>();
  for (const i of issues) if (i.code === 'too_big') tightest.set(i.path, Math.min(tightest.get(i.path) ?? Infinity, Number(i.maximum)));
  return issues.filter((i) => i.code !== 'too_big' || Number(i.maximum) === tightest.get(i.path));
}

/** Zod issues as field issues (paths as the API reports them in `details.issues`). */
export const fieldIssues = (issues: readonly z.core.$ZodIssue[], prefix: string): FieldIssue[] =>
  withoutLooserBounds(issues.map((i) => ({ path: issuePath(prefix, i.path), code: i.code, maximum: 'maximum' in i ? i.maximum : undefined, message: i.message }))).map(
    ({ path, message }) => ({ path, message }),
  );

const acronyms: Record<string, string> = {
  id: 'ID', ids: 'IDs', url: 'URL', smtp: 'SMTP', tls: 'TLS', ssl: 'SSL', dn: 'DN', ttl: 'TTL', totp: 'TOTP', mfa: 'MFA', ssh: 'SSH',
  ip: 'IP', pem: 'PEM', ca: 'CA', jit: 'JIT', api: 'API', oidc: 'OIDC', sso: 'SSO', csr: 'CSR', jwt: 'JWT', ms: '(ms)', uri: 'URI',
};

/** Field names whose words alone would mislead (units the message already gives, codes). */
const fieldWords: Record<string, string> = {
  durationSeconds: 'duration', maxDurationSeconds: 'maximum duration', defaultDurationSeconds: 'default duration',
  pendingTtlSeconds: 'time to wait for approval', startAt: 'start time', totp: 'authenticator code', caPem: 'CA certificate', emailTo: 'recipient email',
  q: 'search text', at: 'time',
};
/** A route's wildcard parameter (`*`) is the rest of the path. */
const quotedKey = (key: string) => (key === '*' ? 'the path' : key);

/** `accountName` → `account name`, `smtpHost` → `SMTP host`, `expiryWarningSeconds` → `expiry warning`. */
function words(name: string): string {
  if (fieldWords[name]) return fieldWords[name];
  const parts = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .toLowerCase()
    .split(' ')
    .filter(Boolean);
  if (parts.length > 1 && parts[parts.length - 1] === 'seconds') parts.pop();
  return parts.map((p) => acronyms[p] ?? p).join(' ');
}

/** Where a field is, said after its name, by the part of the request it came in. */
const placeOf: Record<string, string> = { query: ' in the query', params: ' in the address', headers: ' in the headers' };
/** What a problem with the whole part (no field) is about. */
const wholeOf: Record<string, string> = { body: 'the request', query: 'the query', params: 'the address', config: 'the settings', rules: 'the rules' };

/** `body.smtp.port` → `SMTP › port`; `rules.approvalLevels[0].quorum` → `approval levels › item 1 › quorum`. */
export function fieldLabel(path: string): string {
  const segments = path.match(/\[\d+\]|\[".*?"\]|[^.[\]]+/g) ?? [];
  const [root = '', ...rest] = segments;
  if (rest.length === 0) return wholeOf[root] ?? words(root);
  const label = rest
    .map((s) => (/^\[\d+\]$/.test(s) ? `item ${Number(s.slice(1, -1)) + 1}` : s.startsWith('["') ? quotedKey(JSON.parse(s.slice(1, -1)) as string) : words(s)))
    .join(' › ');
  return `${label}${placeOf[root] ?? ''}`;
}

const capitalise = (s: string) => (s ? s[0]!.toUpperCase() + s.slice(1) : s);
/** Messages that continue the field's name ("… must be at most 64 characters"); others follow a colon. */
const CONTINUES = /^(must|is|are|has|have|does|do|may|cannot|can|should|needs?|contains?|names?|matches|refers?|exceeds?)\b/;

/** One issue as a sentence: "Account name must be at most 64 characters." */
export function issueAsSentence(issue: FieldIssue): string {
  const label = fieldLabel(issue.path);
  const text = issue.message.trim();
  const sentence = CONTINUES.test(text) ? `${capitalise(label)} ${text}` : `${capitalise(label)}: ${text}`;
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}

/** Several issues as sentences, one after the other. */
export const issuesAsSentences = (issues: readonly FieldIssue[]): string => issues.map(issueAsSentence).join(' ');

/**
 * A 400 for a value checked after the request's own schema (a target's settings, a policy's
 * rules): `intro` says what was wrong as a whole, the issues say where, in sentences and (for
 * forms) as `details.issues` with their paths.
 */
export function invalidFields(intro: string, issues: readonly z.core.$ZodIssue[], prefix: string): AppError {
  const list = fieldIssues(issues, prefix);
  return badRequest(`${intro} ${issuesAsSentences(list)}`, { issues: list });
}
