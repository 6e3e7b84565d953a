/** Zod building blocks for the text rule (./text.ts), for every schema of a request. */
import { z } from 'zod';
import { describeTextProblem, findTextProblem, type TextKind } from './text.js';

/**
 * Building blocks for every string a person sends (./text.ts has the rule). Single-line
 * kinds are trimmed; callers add `.min(…)` and `.regex(…)` as the field needs.
 */
const ruleOf = (kind: TextKind) => (s: string, ctx: z.RefinementCtx) => {
  const problem = findTextProblem(s, kind);
  if (problem) ctx.addIssue({ code: 'custom', message: describeTextProblem(problem) });
};
const atMost = (max: number) => ({ error: `must be at most ${max} characters` });

/** One line of free text (a ticket, a search, an id): trimmed, no control characters. */
export const text = (max: number) => z.string().trim().max(max, atMost(max)).superRefine(ruleOf('line'));
/** What a person writes in a text area (why, what was found): lines allowed, trimmed, may be empty. */
export const note = (max: number) => z.string().trim().max(max, atMost(max)).superRefine(ruleOf('multiline'));
/** A note that must say something: never blank (" " is no reason). */
export const reason = (max = 1000, blank = 'must not be blank') => note(max).min(1, { error: blank });
/** A name people will read and compare: one line, not blank, no bidi overrides or invisible characters. */
export const name = (max: number) => z.string().trim().min(1, { error: 'must not be blank' }).max(max, atMost(max)).superRefine(ruleOf('name'));
/** Documented multi-line content kept as sent (PEM): tab, line feed and carriage return allowed; not trimmed. */
export const multiline = (max: number) => z.string().max(max, atMost(max)).superRefine(ruleOf('multiline'));
