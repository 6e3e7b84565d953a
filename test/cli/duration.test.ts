import { describe, expect, it } from 'vitest';
import { DurationError, formatDuration, parseDuration } from '../../src/cli/duration.js';

describe('parseDuration', () => {
  it.each([
    ['90s', 90],
    ['15m', 900],
    ['2h', 7_200],
    ['1d', 86_400],
    ['1h30m', 5_400],
    ['1d2h3m4s', 93_784],
    [' 2H ', 7_200],
    ['120m', 7_200],
  ])('%s is %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([
    ['5x', /invalid duration "5x".*90s, 15m, 2h, 1d or 1h30m/],
    ['', /empty duration/],
    ['90', /has no unit/],
    ['h', /invalid duration/],
    ['1.5h', /invalid duration/],
    ['-1h', /invalid duration/],
    ['30m1h', /largest first/],
    ['1h1h', /largest first/],
    ['1h 30m', /invalid duration/],
    ['0m', /is zero/],
    ['99999999999999999999d', /too long/],
  ])('rejects %j', (text, message) => {
    expect(() => parseDuration(text)).toThrow(DurationError);
    expect(() => parseDuration(text)).toThrow(message);
  });
});

describe('formatDuration', () => {
  it.each([
    [90, '1m30s'],
    [5_400, '1h30m'],
    [86_400, '1d'],
    [93_784, '1d2h3m4s'],
    [0, '0s'],
  ])('%i seconds is %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('round-trips', () => {
    for (const s of [1, 59, 61, 3_599, 3_600, 90_061]) expect(parseDuration(formatDuration(s))).toBe(s);
  });
});
