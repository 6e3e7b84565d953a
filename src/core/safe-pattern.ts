/**
 * Ticket patterns come from administrators and run on every request: refuse anything that is not
 * a valid regular expression or that could backtrack catastrophically. safe-regex2 catches nested
 * repetition (star height > 1); it misses repeated alternation such as (a|a)*, so a small scan
 * also refuses any repeated group that contains an alternation or a quantifier.
 */
import safeRegex from 'safe-regex2';

function repeatedAmbiguousGroup(pattern: string): boolean {
  const stack: Array<{ alt: boolean; quant: boolean }> = [];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') stack.push({ alt: false, quant: false });
    else if (c === '|' && stack.length) stack[stack.length - 1]!.alt = true;
    else if ((c === '*' || c === '+' || c === '{') && stack.length) stack[stack.length - 1]!.quant = true;
    else if (c === ')') {
      const g = stack.pop();
      const next = pattern[i + 1];
      const repeated = next === '*' || next === '+' || (next === '{' && !/^\{\d+\}/.test(pattern.slice(i + 1)) && !/^\{0?,?1\}/.test(pattern.slice(i + 1)));
      if (g && repeated && (g.alt || g.quant)) return true;
      if (g && stack.length && (repeated || g.quant)) stack[stack.length - 1]!.quant = true;
    }
  }
  return false;
}

export function checkTicketPattern(pattern: string): string | null {
  if (pattern.length > 200) return 'the ticket pattern is longer than 200 characters';
  try {
    new RegExp(pattern, 'u');
  } catch (err) {
    return `the ticket pattern is not a valid regular expression: ${(err as Error).message}`;
  }
  if (!safeRegex(pattern) || repeatedAmbiguousGroup(pattern)) {
    return 'the ticket pattern could take exponential time on some inputs (a repeated group with repetition or alternation inside); simplify it';
  }
  return null;
}

/** The whole ticket must match (anchored), not just a part of it. */
export function ticketMatches(pattern: string, ticket: string): boolean {
  return new RegExp(`^(?:${pattern})$`, 'u').test(ticket);
}
