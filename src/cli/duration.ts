/**
 * Durations as people type them: `90s`, `15m`, `2h`, `1d`, `1h30m`. Units from largest to
 * smallest, each at most once; no bare numbers (is `90` seconds or minutes?).
 */
const UNIT_SECONDS = { d: 86_400, h: 3_600, m: 60, s: 1 } as const;
type Unit = keyof typeof UNIT_SECONDS;
const ORDER: readonly Unit[] = ['d', 'h', 'm', 's'];
const EXAMPLES = 'such as 90s, 15m, 2h, 1d or 1h30m';

export class DurationError extends Error {
  override name = 'DurationError';
}

/** Seconds in `text`; throws DurationError with a message fit for the person who typed it. */
export function parseDuration(text: string): number {
  const input = text.trim().toLowerCase();
  const shown = JSON.stringify(text);
  if (input === '') throw new DurationError(`empty duration; use a number with a unit, ${EXAMPLES}`);
  if (/^\d+$/.test(input)) throw new DurationError(`duration ${shown} has no unit; write ${input}m, ${input}h or ${input}s, for example`);
  const part = /(\d+)([dhms])/y;
  let seconds = 0;
  let last = -1;
  let pos = 0;
  while (pos < input.length) {
    part.lastIndex = pos;
    const m = part.exec(input);
    if (!m) throw new DurationError(`invalid duration ${shown}; use a number with a unit, ${EXAMPLES}`);
    const unit = m[2] as Unit;
    const rank = ORDER.indexOf(unit);
    if (rank <= last) throw new DurationError(`invalid duration ${shown}; give each unit once, largest first (e.g. 1h30m)`);
    last = rank;
    seconds += Number(m[1]) * UNIT_SECONDS[unit];
    pos = part.lastIndex;
  }
  if (!Number.isSafeInteger(seconds)) throw new DurationError(`duration ${shown} is too long`);
  if (seconds === 0) throw new DurationError(`duration ${shown} is zero; give a positive duration, ${EXAMPLES}`);
  return seconds;
}

/** 5400 → `1h30m`, 90 → `1m30s`, 86400 → `1d`. */
export function formatDuration(totalSeconds: number): string {
  if (totalSeconds <= 0) return '0s';
  let rest = Math.round(totalSeconds);
  let out = '';
  for (const unit of ORDER) {
    const n = Math.floor(rest / UNIT_SECONDS[unit]);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * UNIT_SECONDS[unit];
  }
  return out;
}
