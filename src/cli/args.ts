/** Option parsers for commander: a bad value is a usage error (exit 2) with a clear message. */
import { InvalidArgumentError } from 'commander';
import { DurationError, parseDuration } from './duration.js';

export function durationArg(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    if (err instanceof DurationError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

export const intArg =
  (min: number, max: number) =>
  (value: string): number => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number, got ${JSON.stringify(value)}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`must be between ${min} and ${max}`);
    return n;
  };

/** For repeatable options: `--entitlement a --entitlement b` (commas also split). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...csvArg(value)];
}

export function csvArg(value: string): string[] {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new InvalidArgumentError('expected one or more comma-separated values');
  return parts;
}

/** An ISO 8601 date-time; passed on as the exact UTC instant. */
export function isoArg(value: string): string {
  const ok = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.test(value.trim());
  const d = new Date(value.trim());
  if (!ok || Number.isNaN(d.getTime())) {
    throw new InvalidArgumentError(`expected an ISO 8601 date-time such as 2026-03-01T09:00:00Z, got ${JSON.stringify(value)}`);
  }
  return d.toISOString();
}

export const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
