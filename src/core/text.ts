/**
 * The one rule for text that crosses an edge (request bodies, queries, path parameters).
 *
 * - Well-formed Unicode: a lone UTF-16 surrogate cannot be stored (PostgreSQL refuses it in
 *   json, silently turns it into U+FFFD elsewhere) and breaks audit hashing.
 * - No control characters: NUL cannot be stored at all; the others hide text from the person
 *   reading it. Only fields documented as multi-line (PEM, notes) accept tab, line feed and
 *   carriage return.
 * - No string holds a bidi embedding, override or isolate (U+202A–U+202E, U+2066–U+2069): they
 *   reorder what a person reads around them (a reason shown to an approver, a name in a list).
 *   The marks (LRM, RLM, ALM) stay allowed in free text: right-to-left writing uses them.
 * - Names refuse every invisible formatting character (those and the marks, zero-width
 *   characters): they make one name look like another.
 * - Required text is never blank: "   " is no reason.
 *
 * Pure: answers a problem as data; messages are built by `describeTextProblem`.
 */

/** What kind of text a field holds, from strictest to loosest. */
export type TextKind = 'name' | 'line' | 'multiline';

export type TextProblem =
  | { code: 'lone_surrogate'; index: number; codeUnit: number }
  | { code: 'control_character'; index: number; codePoint: number }
  | { code: 'line_break'; index: number; codePoint: number }
  | { code: 'invisible_formatting'; index: number; codePoint: number }
  | { code: 'nothing_visible' };

/** Tab, line feed, carriage return: accepted in multi-line text only. */
const isLineControl = (c: number) => c === 0x09 || c === 0x0a || c === 0x0d;
/** C0 controls, DEL, C1 controls. */
const isControl = (c: number) => c <= 0x1f || (c >= 0x7f && c <= 0x9f);
/** Line and paragraph separators break a line as surely as LF. */
const isUnicodeLineBreak = (c: number) => c === 0x2028 || c === 0x2029;

/** Unicode's format characters (category Cf): drawn as nothing, they change the text around them. */
const FORMAT_CHARACTER = /\p{Cf}/u;

/**
 * Invisible characters that change how neighbouring text is shown: every format character
 * (bidi embeddings, overrides, isolates and marks, zero-width joiners and spaces, word joiner,
 * invisible operators, the BOM, soft hyphen, tag characters…); letters drawn as nothing (the
 * combining grapheme joiner, Hangul and Khitan fillers, Khmer inherent vowels, the braille
 * blank); and noncharacters. They let a name look blank or like another.
 */
export function isInvisibleFormatting(c: number): boolean {
  return (
    FORMAT_CHARACTER.test(String.fromCodePoint(c)) ||
    c === 0x034f ||
    c === 0x115f ||
    c === 0x1160 ||
    c === 0x17b4 ||
    c === 0x17b5 ||
    c === 0x2800 ||
    c === 0x3164 ||
    c === 0xffa0 ||
    c === 0x16fe4 ||
    (c >= 0xfdd0 && c <= 0xfdef) ||
    (c & 0xfffe) === 0xfffe
  );
}

/**
 * A field name as an error message shows it, quoted: a character that shows as nothing (format
 * characters, fillers, variation selectors) written as `\uXXXX`, so an unknown field "ad\u200bmin"
 * is not read as "admin".
 */
export function shownKey(key: string): string {
  let out = '';
  for (const ch of JSON.stringify(key)) {
    const c = ch.codePointAt(0)!;
    out += showsAsNothing(c) ? (c > 0xffff ? `\\u{${c.toString(16)}}` : `\\u${c.toString(16).padStart(4, '0')}`) : ch;
  }
  return out;
}

/** Variation selectors only choose how the character before them is drawn; in a name, none. */
const isVariationSelector = (c: number) =>
  (c >= 0xfe00 && c <= 0xfe0f) || (c >= 0xe0100 && c <= 0xe01ef) || (c >= 0x180b && c <= 0x180d) || c === 0x180f;

/** What a name may not hold, and a field name in a message is escaped for: drawn as nothing. */
const showsAsNothing = (c: number) => isInvisibleFormatting(c) || isVariationSelector(c);

/** Something a person sees: a letter, digit, punctuation or symbol (a name of marks alone shows nothing). */
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u;

/** Bidi embeddings, overrides and isolates: refused in every string (the marks are not among them). */
const isBidiReordering = (c: number) => (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);

/** The first problem of `s` for a field of this kind, or null when it is acceptable. */
export function findTextProblem(s: string, kind: TextKind): TextProblem | null {
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    let c = unit;
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (next < 0xdc00 || next > 0xdfff) return { code: 'lone_surrogate', index: i, codeUnit: unit };
      c = 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00);
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return { code: 'lone_surrogate', index: i, codeUnit: unit };
    }
    if (isControl(c)) {
      if (!(kind === 'multiline' && isLineControl(c))) {
        return isLineControl(c) ? { code: 'line_break', index: i, codePoint: c } : { code: 'control_character', index: i, codePoint: c };
      }
    } else if (isUnicodeLineBreak(c) && kind !== 'multiline') {
      return { code: 'line_break', index: i, codePoint: c };
    } else if ((kind === 'name' && showsAsNothing(c)) || isBidiReordering(c)) {
      return { code: 'invisible_formatting', index: i, codePoint: c };
    }
    if (c > 0xffff) i++;
  }
  if (kind === 'name' && s.length > 0 && !VISIBLE.test(s)) return { code: 'nothing_visible' };
  return null;
}

/**
 * The floor every string of every request must meet, whatever its field: what the store cannot
 * hold (lone surrogates, NUL), control characters other than tab, line feed and carriage return,
 * and bidi reordering. Fields then apply their own, stricter kind.
 */
export function findUnsafeText(s: string): TextProblem | null {
  return findTextProblem(s, 'multiline');
}

export const codePointLabel = (c: number) => `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;

const characterNames: Record<number, string> = {
  0x00: 'NUL', 0x09: 'tab', 0x0a: 'line feed', 0x0d: 'carriage return', 0x1b: 'escape', 0x7f: 'delete',
  0x2028: 'line separator', 0x2029: 'paragraph separator', 0x200b: 'zero-width space', 0x200d: 'zero-width joiner',
  0x200e: 'left-to-right mark', 0x200f: 'right-to-left mark', 0x202e: 'right-to-left override', 0x202d: 'left-to-right override',
  0x2066: 'left-to-right isolate', 0x2067: 'right-to-left isolate', 0x2068: 'first strong isolate', 0x2069: 'pop directional isolate',
  0xfeff: 'byte order mark',
};

const named = (c: number) => (characterNames[c] ? `${characterNames[c]}, ${codePointLabel(c)}` : codePointLabel(c));

/** A phrase completing "<field> …", e.g. "must not contain control characters (NUL, U+0000)". */
export function describeTextProblem(p: TextProblem): string {
  switch (p.code) {
    case 'lone_surrogate':
      return `is not valid Unicode text (a lone surrogate ${codePointLabel(p.codeUnit)} at position ${p.index + 1})`;
    case 'control_character':
      return `must not contain control characters (${named(p.codePoint)} at position ${p.index + 1})`;
    case 'line_break':
      return `must be a single line (${named(p.codePoint)} at position ${p.index + 1})`;
    case 'invisible_formatting':
      return `must not contain invisible formatting characters such as direction overrides (${named(p.codePoint)} at position ${p.index + 1})`;
    case 'nothing_visible':
      return 'must contain a letter, digit or sign a person can see';
  }
}

/**
 * `s` made safe to store and show, for the few places that must record or pass on text they
 * cannot refuse (a failed sign-in's email, a host command's output): lone surrogates, control
 * characters and bidi reordering become `\uXXXX` escapes (what the floor refuses, never sent
 * raw). `keepLines` keeps tab, line feed and carriage return (what every field accepts);
 * `backslash` also escapes `\`, so an escape and the same text typed literally stay
 * distinguishable.
 */
export function escapeUnsafeText(s: string, opts: { keepLines?: boolean; backslash?: boolean } = {}): string {
  const backslash = opts.backslash ?? true;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
        continue;
      }
    }
    const lone = unit >= 0xd800 && unit <= 0xdfff;
    const control = (isControl(unit) && !(opts.keepLines && isLineControl(unit))) || isBidiReordering(unit);
    if (lone || control) out += `\\u${unit.toString(16).padStart(4, '0')}`;
    else if (unit === 0x5c && backslash) out += '\\\\';
    else out += s[i]!;
  }
  return out;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The text the bytes encode, or null when they are not UTF-8 (never replaced by U+FFFD). */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}
