import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeIssues, fieldIssues, installIssueSentences, invalidFields, issueAsSentence } from './zod-issues.js';

installIssueSentences();

const schema = z.strictObject({
  name: z.string().min(1).max(3),
  count: z.number().int().min(3),
  days: z.number().int().min(1).max(3650),
  kind: z.enum(['x', 'y']),
  tags: z.array(z.string()).min(2),
  id: z.guid(),
  at: z.iso.datetime(),
  either: z.union([z.string(), z.number()]),
  flag: z.boolean(),
  own: z.string().min(5, { error: 'say more' }),
});

const messageFor = (input: Record<string, unknown> | null) => {
  const r = schema.safeParse(input);
  return r.success ? '' : describeIssues(r.error.issues, 'body');
};

describe('zod issues as sentences', () => {
  it.each([
    [{ name: 1 }, 'body.name: must be text, not a number'],
    [{ name: '' }, 'body.name: must not be empty'],
    [{ name: 'abcd' }, 'body.name: must be at most 3 characters'],
    [{ count: 1.5 }, 'body.count: must be a whole number, not 1.5'],
    [{ count: Number.NaN }, 'body.count: must be a number'],
    [{ count: Number.POSITIVE_INFINITY }, 'body.count: must be a finite number'],
    [{ count: 1 }, 'body.count: must be at least 3'],
    [{ name: Number.POSITIVE_INFINITY }, 'body.name: must be text, not a number'],
    [{ kind: 'z' }, 'body.kind: must be one of "x", "y"'],
    [{ tags: ['a'] }, 'body.tags: must be at least 2 items'],
    [{ id: 'n' }, 'body.id: must be an id (UUID)'],
    [{ at: 'yesterday' }, 'body.at: must be a date and time such as 2026-05-01T10:00:00Z'],
    [{ either: true }, 'body.either: does not match any of the accepted forms'],
    [{ flag: 'yes' }, 'body.flag: must be true or false, not text'],
    [{ own: 'x' }, 'body.own: say more'],
    [{ extra: 1 }, 'body: has an unknown field "extra"'],
    // A field name that shows as another is shown with what hides in it.
    [{ ['ad\u200bmin']: 1 }, 'body: has an unknown field "ad\\u200bmin"'],
    [{ ['x\u{E0041}']: 1 }, 'body: has an unknown field "x\\u{e0041}"'],
    [null, 'body: must be a JSON object ({} when there is nothing to add), not empty'],
    [{}, 'body.name: is required'],
  ])('%j → %s', (input, sentence) => {
    expect(messageFor(input).split('; ')).toContain(sentence);
  });
});

it('a number over its own bound and the safe-integer limit is told the tighter bound only', () => {
  const r = schema.safeParse({ days: 2 ** 53 + 1 });
  const days = fieldIssues(r.success ? [] : r.error.issues, 'body').filter((i) => i.path === 'body.days');
  expect(days).toEqual([{ path: 'body.days', message: 'must be at most 3650' }]);
});

describe('field issues as sentences a person understands', () => {
  it.each([
    ['body.accountName', 'must be at most 64 characters', 'Account name must be at most 64 characters.'],
    ['query.q', 'type at least 2 characters to search', 'Search text in the query: type at least 2 characters to search.'],
    ['body.redirectUri', 'must be a URL', 'Redirect URI must be a URL.'],
    ['config.user', 'is required', 'User is required.'],
    ['body.durationSeconds', 'must be at least 10 seconds', 'Duration must be at least 10 seconds.'],
    ['body.smtp.port', 'must be a port number between 1 and 65535', 'SMTP › port must be a port number between 1 and 65535.'],
    ['body.expiryWarningSeconds', 'must be at least 60 seconds', 'Expiry warning must be at least 60 seconds.'],
    ['body.targetId', 'must be an id (UUID)', 'Target ID must be an id (UUID).'],
    ['rules.approvalLevels[0].quorum', 'must be at least 1', 'Approval levels › item 1 › quorum must be at least 1.'],
    ['query.actorId', 'must not be empty', 'Actor ID in the query must not be empty.'],
    ['body', 'has an unknown field "admin"', 'The request has an unknown field "admin".'],
    ['body.reason', 'a reason is required', 'Reason: a reason is required.'],
    ['body.slug', 'use lowercase letters, digits and dashes.', 'Slug: use lowercase letters, digits and dashes.'],
    ['config.connectTimeoutMs', 'must be a whole number, not text', 'Connect timeout (ms) must be a whole number, not text.'],
  ])('%s: %s → %s', (path, message, sentence) => {
    expect(issueAsSentence({ path, message })).toBe(sentence);
  });

  it('keeps the path of each issue for forms and says all of them in the message', () => {
    const r = z.strictObject({ user: z.string(), port: z.number() }).safeParse({ port: 'x' });
    if (r.success) throw new Error('expected a failure');
    const err = invalidFields("The postgres target's settings are not valid.", r.error.issues, 'config');
    expect(err.message).toBe("The postgres target's settings are not valid. User is required. Port must be a number, not text.");
    expect(err.details).toEqual({ issues: [{ path: 'config.user', message: 'is required' }, { path: 'config.port', message: 'must be a number, not text' }] });
    expect(fieldIssues(r.error.issues, 'body')[1]?.path).toBe('body.port');
  });
});
