/**
 * The report: one markdown table (what a person reads in CI logs or pastes into an issue) and the
 * same rows as JSON. A row without a target is context (e.g. PGlite figures) and shows "·".
 */

export interface Row {
  figure: string;
  store: string;
  measured: string;
  target: string;
  /** true/false against the target; null when the row has no target or could not be measured. */
  ok: boolean | null;
  /** The raw number behind `measured`, for the JSON (machine-readable, no units in text). */
  value?: number | null;
  unit?: string;
}

export function row(figure: string, store: string, value: number | null, unit: string, target?: { text: string; ok: (v: number) => boolean }): Row {
  const measured = value === null || !Number.isFinite(value) ? 'n/a' : `${formatNumber(value)}${unit ? ` ${unit}` : ''}`;
  const ok = target && value !== null && Number.isFinite(value) ? target.ok(value) : null;
  return { figure, store, measured, target: target?.text ?? '—', ok, value, unit };
}

/** Rows for a section that failed: the error is shown where its figures would have been. */
export function errorRow(figure: string, store: string, err: unknown): Row {
  const message = err instanceof Error ? err.message : String(err);
  return { figure, store, measured: `error: ${message.split('\n')[0]!.slice(0, 120)}`, target: '—', ok: false, value: null };
}

export function formatNumber(v: number): string {
  const abs = Math.abs(v);
  if (Number.isInteger(v) || abs >= 100) return Math.round(v).toLocaleString('en-US');
  if (abs >= 10) return v.toFixed(1);
  return v.toFixed(abs >= 1 ? 2 : 3);
}

const mark = (ok: boolean | null) => (ok === null ? '·' : ok ? '✓' : '✗');
const cell = (s: string) => s.replace(/\|/g, '\\|');

export function renderMarkdown(rows: readonly Row[]): string {
  const header = ['Figure', 'Store', 'Measured', 'Target', '✓/✗'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 2 ? '---:' : '---')).join('|')}|`];
  for (const r of rows) lines.push(`| ${[r.figure, r.store, r.measured, r.target, mark(r.ok)].map(cell).join(' | ')} |`);
  return lines.join('\n');
}
