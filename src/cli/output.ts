/** What the CLI prints: aligned tables and key/value blocks for people, JSON for scripts. */
import { isInvisibleFormatting } from '../core/text.js';
import { formatDuration } from './duration.js';

export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Notes and warnings go to stderr, so stdout stays clean for pipes. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Text from the server or an identity provider (names, reasons, messages) must not drive the
 * terminal (control characters, escape sequences) nor reorder what is shown (bidi controls and
 * other invisible formatting): each becomes a space.
 */
export function clean(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  let out = '';
  for (const ch of String(value)) {
    const c = ch.codePointAt(0)!;
    out += c <= 0x1f || (c >= 0x7f && c <= 0x9f) || isInvisibleFormatting(c) ? ' ' : ch;
  }
  return out;
}

export function table(headers: string[], rows: unknown[][], empty = '(none)'): void {
  if (rows.length === 0) {
    print(empty);
    return;
  }
  const cells = rows.map((r) => r.map(clean));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  print(line(headers));
  for (const r of cells) print(line(r));
}

export function keyValues(pairs: [string, unknown][]): void {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  for (const [k, v] of pairs) print(`${`${k}:`.padEnd(width)} ${clean(v)}`);
}

/** `2026-03-01 09:00 UTC`, short enough for a table; null as `-`. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** `in 1h59m` / `3m ago`, relative to now. */
export function relative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  if (Number.isNaN(seconds)) return '';
  return seconds >= 0 ? `in ${formatDuration(seconds)}` : `${formatDuration(-seconds)} ago`;
}

export const list = (values: readonly string[] | null | undefined, none = 'any'): string =>
  values && values.length ? values.join(',') : none;
