/** Durations in the CLI's notation (4h, 30m, 1h30m, 45s), dates and countdowns. */

const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Seconds, or null when the text is not a duration such as 30m or 1h30m. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.replace(/\s+/g, '').toLowerCase());
  if (!m || !text.trim() || m.slice(1).every((g) => g === undefined)) return null;
  const [d, h, min, s] = m.slice(1).map((g) => Number(g ?? 0)) as [number, number, number, number];
  return d * 86400 + h * 3600 + min * 60 + s;
}

export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const parts = [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : '', s ? `${s}s` : ''].join('');
  return parts || '0s';
}

/** "ends in 29m 58s" style, from milliseconds left. */
export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}h ${pad(m)}m ${pad(s)}s` : `${m}m ${pad(s)}s`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateTimeSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });

export const formatDate = (iso: string | null | undefined): string => (iso ? dateTime.format(new Date(iso)) : '—');
export const formatDateSeconds = (iso: string | null | undefined): string => (iso ? dateTimeSeconds.format(new Date(iso)) : '—');

/** `<input type="datetime-local">` value → ISO 8601 with offset, or undefined when empty. */
export const localInputToIso = (value: string): string | undefined => (value ? new Date(value).toISOString() : undefined);

// dateStyle/timeStyle cannot be combined with timeZoneName: the parts are named one by one.
const withZone = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });

/** "1 May 2026, 12:30 CEST (Europe/Berlin)": an end time nobody can misread across zones. */
export function formatDateWithZone(iso: string): string {
  const zone = withZone.resolvedOptions().timeZone;
  return `${withZone.format(new Date(iso))}${zone ? ` (${zone})` : ''}`;
}
