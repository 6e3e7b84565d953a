import { describe, expect, it } from 'vitest';
import { describeTextProblem, escapeUnsafeText, findTextProblem, findUnsafeText, type TextKind } from './text.js';

type Row = [input: string, kind: TextKind, problem: string | null];

const table: Row[] = [
  ['orders-db', 'name', null],
  ['Zoë Ødegård', 'name', null],
  ['مدير قاعدة البيانات', 'name', null],
  ['emoji 🔑 in a name', 'name', null],
  ['fix\u0000it', 'line', 'control_character'],
  ['fix\u0000it', 'multiline', 'control_character'],
  ['bell\u0007', 'multiline', 'control_character'],
  ['escape \u001b[31m', 'line', 'control_character'],
  ['delete\u007f', 'line', 'control_character'],
  ['c1 \u0085 next line', 'line', 'control_character'],
  ['two\nlines', 'line', 'line_break'],
  ['two\r\nlines', 'name', 'line_break'],
  ['tab\there', 'line', 'line_break'],
  ['two\nlines\twith tab\r\n', 'multiline', null],
  ['line\u2028separator', 'line', 'line_break'],
  ['line\u2028separator', 'multiline', null],
  ['lone high \ud800 surrogate', 'multiline', 'lone_surrogate'],
  ['lone low \udfff surrogate', 'name', 'lone_surrogate'],
  ['high at the end \udbff', 'line', 'lone_surrogate'],
  ['reversed pair \udc00\ud800', 'line', 'lone_surrogate'],
  ['admin\u202egnp.exe', 'name', 'invisible_formatting'],
  ['admin\u202egnp.exe', 'line', 'invisible_formatting'],
  ['isolate \u2066x\u2069', 'multiline', 'invisible_formatting'],
  ['embedding \u202ax', 'multiline', 'invisible_formatting'],
  ['עברית \u200f(RLM) and \u061c ALM', 'line', null],
  ['zero\u200bwidth in a reason', 'line', null],
  ['isolate \u2066x\u2069', 'name', 'invisible_formatting'],
  ['zero\u200bwidth', 'name', 'invisible_formatting'],
  ['bom\ufeff', 'name', 'invisible_formatting'],
  ['tag \u{E0041}', 'name', 'invisible_formatting'],
  ['soft\u00adhyphen', 'name', 'invisible_formatting'],
  // Letters drawn as nothing: a name that looks blank, or like another with a filler inside.
  ['\u3164', 'name', 'invisible_formatting'],
  ['ann\u115fa', 'name', 'invisible_formatting'],
  ['\u2800', 'name', 'invisible_formatting'],
  ['a\u034fb', 'name', 'invisible_formatting'],
  ['\uffff', 'name', 'invisible_formatting'],
  ['plane end \u{1FFFE}', 'name', 'invisible_formatting'],
  ['Hangul 한국 and braille ⠁ letters', 'name', null],
  ['\ufe0f\ufe0f', 'name', 'invisible_formatting'],
  ['ops \u180b', 'name', 'invisible_formatting'],
  ['music \u{1D173}', 'name', 'invisible_formatting'],
  ['\u{16FE4}', 'name', 'invisible_formatting'],
  ['\u0301\u0302', 'name', 'nothing_visible'],
  ['Rene\u0301 (a letter and its accent)', 'name', null],
  ['\ufe0f in a reason', 'line', null],
  ['\u3164 in a reason', 'line', null],
  ['', 'name', null],
];

describe('the text rule', () => {
  it.each(table)('%j as %s → %s', (input, kind, problem) => {
    expect(findTextProblem(input, kind)?.code ?? null).toBe(problem);
  });

  it('the floor for every string refuses only what no field accepts (bidi reordering included)', () => {
    expect(findUnsafeText('a\nb\tc\r')).toBeNull();
    expect(findUnsafeText('\u202e')?.code).toBe('invisible_formatting');
    expect(findUnsafeText('\u200f')).toBeNull();
    expect(findUnsafeText('\u0000')?.code).toBe('control_character');
    expect(findUnsafeText('\ud800')?.code).toBe('lone_surrogate');
  });

  it('says what is wrong and where, in words', () => {
    expect(describeTextProblem(findTextProblem('fix\u0000it', 'line')!)).toBe('must not contain control characters (NUL, U+0000 at position 4)');
    expect(describeTextProblem(findTextProblem('ab\ud800', 'line')!)).toBe('is not valid Unicode text (a lone surrogate U+D800 at position 3)');
    expect(describeTextProblem(findTextProblem('a\nb', 'line')!)).toBe('must be a single line (line feed, U+000A at position 2)');
    expect(describeTextProblem(findTextProblem('x\u202ey', 'name')!)).toMatch(/^must not contain invisible formatting characters such as direction overrides \(right-to-left override, U\+202E at position 2\)$/);
  });

  it('positions count code units, so a pair before the problem counts twice', () => {
    expect(findTextProblem('🔑\u0000', 'line')).toEqual({ code: 'control_character', index: 2, codePoint: 0 });
  });

  it('escapes what it cannot store, keeping well-formed text as it is', () => {
    expect(escapeUnsafeText('a\u0000b\ud800c🔑\\')).toBe('a\\u0000b\\ud800c🔑\\\\');
    expect(findUnsafeText(escapeUnsafeText('\udc00\u0001\ud83d'))).toBeNull();
    // Whatever the floor refuses is escaped, so a host's output never blocks an agent's journal.
    expect(escapeUnsafeText('a\u202eb\u2066c\u200fd')).toBe('a\\u202eb\\u2066c\u200fd');
    expect(findUnsafeText(escapeUnsafeText('\u202a\u202e\u2066\u2069', { keepLines: true, backslash: false }))).toBeNull();
    // What a host's output keeps: lines and backslashes as they were, only the unsendable escaped.
    expect(escapeUnsafeText('a\\b\n\tc\u001b[0m\ud800', { keepLines: true, backslash: false })).toBe('a\\b\n\tc\\u001b[0m\\ud800');
  });
});
