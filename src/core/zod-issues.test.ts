import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeIssues, installIssueSentences } from './zod-issues.js';

installIssueSentences();

const schema = z.strictObject({
  name: z.string().min(1).max(3),
  count: z.number().int().min(3),
  kind: z.enum(['x', 'y']),
  tags: z.array(z.string()).min(2),
  id: z.uuid(),
  at: z.iso.datetime(),
  either: z.union([z.string(), z.number()]),
  flag: z.boolean(),
  own: z.string().min(5, { error: 'say more' }),
});

const messageFor = (input: Record<string, unknown>) => {
  const r = schema.safeParse(input);
  return r.success ? '' : describeIssues(r.error.issues, 'body');
};

describe('zod issues as sentences', () => {
  it.each([
    [{ name: 1 }, 'body.name: must be text, not a number'],
    [{ name: '' }, 'body.name: must not be empty'],
    [{ name: 'abcd' }, 'body.name: must be at most 3 characters'],
    [{ count: 1.5 }, 'body.count: must be a whole number, not a number'],
    [{ count: 1 }, 'body.count: must be at least 3'],
    [{ kind: 'z' }, 'body.kind: must be one of "x", "y"'],
    [{ tags: ['a'] }, 'body.tags: must be at least 2 items'],
    [{ id: 'n' }, 'body.id: must be an id (UUID)'],
    [{ at: 'yesterday' }, 'body.at: must be a date and time such as 2026-05-01T10:00:00Z'],
    [{ either: true }, 'body.either: does not match any of the accepted forms'],
    [{ flag: 'yes' }, 'body.flag: must be true or false, not text'],
    [{ own: 'x' }, 'body.own: say more'],
    [{ extra: 1 }, 'body: has an unknown field "extra"'],
    [{}, 'body.name: is required'],
  ])('%j → %s', (input, sentence) => {
    expect(messageFor(input).split('; ')).toContain(sentence);
  });
});
