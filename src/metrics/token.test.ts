import { describe, expect, it } from 'vitest';
import { scrapeAccess } from './token.js';

const token = 'a'.repeat(16) + 'metrics-token';

describe('scrapeAccess', () => {
  it.each([
    ['no setting: off whatever is presented', undefined, `Bearer ${token}`, 'off'],
    ['no setting, nothing presented', undefined, undefined, 'off'],
    ['right token', token, `Bearer ${token}`, 'allowed'],
    ['scheme is case-insensitive', token, `bearer ${token}`, 'allowed'],
    ['missing header', token, undefined, 'denied'],
    ['empty bearer', token, 'Bearer ', 'denied'],
    ['wrong token', token, 'Bearer nope', 'denied'],
    ['a prefix of the token', token, `Bearer ${token.slice(0, -1)}`, 'denied'],
    ['the token plus more', token, `Bearer ${token}x`, 'denied'],
    ['another scheme', token, `Basic ${token}`, 'denied'],
    ['the token without a scheme', token, token, 'denied'],
  ] as const)('%s', (_name, configured, header, expected) => {
    expect(scrapeAccess(configured, header)).toBe(expected);
  });
});
