/** Turns zod issues into sentences a person can act on: one line per field. */
import { z } from 'zod';

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
      return `${issue.keys.length === 1 ? 'has an unknown field' : 'has unknown fields'} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
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
