/**
 * Access windows: when a policy lets access run, as wall-clock time in a named time zone
 * (so "Mon–Fri 08:00–18:00 Europe/Berlin" stays right across daylight-saving changes).
 * Pure: uses Intl for the zone rules, no clock of its own.
 */
export const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof weekdays)[number];

export interface AccessWindow {
  timeZone: string;
  days: Weekday[];
  /** 'HH:MM' local; `to` before `from` means the window runs past midnight. */
  from: string;
  to: string;
  /** Optional date range, local dates 'YYYY-MM-DD', inclusive. */
  dates?: { from: string; to: string };
}

export interface LocalTime {
  date: string;
  weekday: Weekday;
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      weekday: 'short',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

export function localTime(at: Date, timeZone: string): LocalTime {
  const parts = Object.fromEntries(formatter(timeZone).formatToParts(at).map((p) => [p.type, p.value]));
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    weekday: String(parts.weekday).toLowerCase().slice(0, 3) as Weekday,
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

export const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

function previousDay(date: string, weekday: Weekday): { date: string; weekday: Weekday } {
  const d = new Date(`${date}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return { date: d.toISOString().slice(0, 10), weekday: weekdays[(weekdays.indexOf(weekday) + 6) % 7]! };
}

function dayAllowed(w: AccessWindow, date: string, weekday: Weekday): boolean {
  if (!w.days.includes(weekday)) return false;
  if (w.dates && (date < w.dates.from || date > w.dates.to)) return false;
  return true;
}

/** Is `at` inside the window? An overnight window belongs to the day it starts on. */
export function inWindow(w: AccessWindow, at: Date): boolean {
  const t = localTime(at, w.timeZone);
  const from = toMinutes(w.from);
  const to = toMinutes(w.to);
  if (from < to) return t.minutes >= from && t.minutes < to && dayAllowed(w, t.date, t.weekday);
  if (t.minutes >= from) return dayAllowed(w, t.date, t.weekday);
  if (t.minutes < to) {
    const prev = previousDay(t.date, t.weekday);
    return dayAllowed(w, prev.date, prev.weekday);
  }
  return false;
}

export function inAnyWindow(windows: readonly AccessWindow[], at: Date): boolean {
  return windows.length === 0 || windows.some((w) => inWindow(w, at));
}

/**
 * The first instant at or after `start` (to the minute) that is outside every window, searched up
 * to `horizonMs`; null when access stays allowed that long. Minute steps keep DST edges exact.
 */
export function windowEnd(windows: readonly AccessWindow[], start: Date, horizonMs: number): Date | null {
  if (windows.length === 0) return null;
  const step = 60_000;
  const first = Math.ceil(start.getTime() / step) * step;
  for (let t = first; t <= start.getTime() + horizonMs; t += step) {
    if (!inAnyWindow(windows, new Date(t))) return new Date(Math.max(t, start.getTime()));
  }
  return null;
}

/** YYYY-MM-DD naming a real day (not month 13, not February 30). */
function isCalendarDate(s: string): boolean {
  const d = new Date(`${s}T12:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** Why a window can never let anyone in, or null if it can. `now` rules out ranges in the past. */
export function neverOpens(w: AccessWindow, now: Date): string | null {
  if (w.days.length === 0) return 'the window has no days of the week';
  if (w.from === w.to) return `the window opens and closes at the same time (${w.from})`;
  if (w.dates) {
    // The schema checks the shape only; 2030-13-01 or 2030-02-30 are no day at all.
    for (const s of [w.dates.from, w.dates.to]) if (!isCalendarDate(s)) return `${s} is not a date in the calendar`;
    if (w.dates.to < w.dates.from) return `the date range ends (${w.dates.to}) before it starts (${w.dates.from})`;
    if (w.dates.to < localTime(now, w.timeZone).date) return `the date range ended on ${w.dates.to}`;
    // Does any date in the range fall on one of the chosen days? Seven days suffice.
    let d = new Date(`${w.dates.from}T12:00:00Z`);
    for (let i = 0; i < 7; i++) {
      const date = d.toISOString().slice(0, 10);
      if (date > w.dates.to) break;
      const wd = weekdays[(d.getUTCDay() + 6) % 7]!;
      if (w.days.includes(wd)) return null;
      d = new Date(d.getTime() + 86_400_000);
    }
    return `no day between ${w.dates.from} and ${w.dates.to} is one of ${w.days.join(', ')}`;
  }
  return null;
}
