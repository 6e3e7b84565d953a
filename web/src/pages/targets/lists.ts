/** The list fields of target forms: one item per line, or comma-separated words on one line. */

/** Lines of a text area, trimmed, without empty ones. */
export const linesOf = (text: string | undefined): string[] =>
  (text ?? '')
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);

/** Comma- or line-separated words, trimmed, without empty ones. */
export const wordsOf = (text: string | undefined): string[] =>
  (text ?? '')
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
