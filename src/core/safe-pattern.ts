/**
 * Patterns from administrators (ticket patterns, SSH principal patterns) run on every request.
 * They run on RE2 semantics (re2js, pure JavaScript): matching takes time linear in the input,
 * whatever the pattern, so no pattern can stall the server. The price is the syntax RE2 leaves
 * out on purpose (backreferences, lookaround, atomic groups); a pattern using it is refused at
 * save with the construct named, rather than failing later at match time.
 */
import { RE2JS } from 're2js';

export const MAX_PATTERN_LENGTH = 200;

/** Constructs a backtracking engine has and RE2 has not, with the words an administrator knows. */
const UNSUPPORTED: Array<[RegExp, string]> = [
  [/^\(\?<[=!]/, 'lookbehind ((?<=…) or (?<!…))'],
  [/^\(\?[=!]/, 'lookahead ((?=…) or (?!…))'],
  [/^\(\?>/, 'atomic groups ((?>…))'],
  [/^\\[1-9]/, 'backreferences (\\1, \\2, …)'],
  [/^\\k</, 'named backreferences (\\k<name>)'],
  [/^[*+?}][+]/, 'possessive quantifiers (*+, ++, ?+)'],
];

/** The first unsupported construct outside a character class, or null. */
export function unsupportedSyntax(pattern: string): string | null {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    const rest = pattern.slice(i);
    if (!inClass) {
      for (const [re, name] of UNSUPPORTED) if (re.test(rest)) return name;
    }
    if (c === '\\') {
      // An escape with braces (\p{L}, \x{41}) ends at its brace: its "}" closes no quantifier.
      const close = 'pPx'.includes(pattern[i + 1] ?? '') && pattern[i + 2] === '{' ? pattern.indexOf('}', i + 3) : -1;
      i = close === -1 ? i + 1 : close;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') inClass = true;
  }
  return null;
}

/** Null when the pattern may be saved; otherwise what is wrong, for the person typing it. */
export function checkTicketPattern(pattern: string): string | null {
  if (pattern.length > MAX_PATTERN_LENGTH) return `the ticket pattern is longer than ${MAX_PATTERN_LENGTH} characters`;
  const unsupported = unsupportedSyntax(pattern);
  if (unsupported) {
    return `the ticket pattern uses ${unsupported}, which is not supported: patterns run on RE2 syntax, which guarantees matching in linear time`;
  }
  try {
    RE2JS.compile(pattern);
  } catch (err) {
    return `the ticket pattern is not a valid regular expression (RE2 syntax): ${(err as Error).message.replace(/^error parsing regexp: /, '')}`;
  }
  return null;
}

/** Compiled patterns, kept because the same few patterns run on every request. */
const compiled = new Map<string, RE2JS | null>();
const MAX_CACHED = 500;

function compileAnchored(pattern: string): RE2JS | null {
  let re = compiled.get(pattern);
  if (re !== undefined) return re;
  try {
    re = RE2JS.compile(`^(?:${pattern})$`);
  } catch {
    // Saved before patterns ran on RE2: it cannot match anything now, so nothing is let through.
    re = null;
  }
  if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value as string);
  compiled.set(pattern, re);
  return re;
}

/** The whole ticket must match (anchored), not just a part of it. Linear in the ticket's length. */
export function ticketMatches(pattern: string, ticket: string): boolean {
  const re = compileAnchored(pattern);
  return re !== null && re.matches(ticket);
}
