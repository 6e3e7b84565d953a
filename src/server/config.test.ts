import { describe, expect, it } from 'vitest';
import { SettingsError } from '../core/errors.js';
import { loadServerConfig } from './config.js';

describe('server settings', () => {
  it('an empty value counts as unset, as env files write "not set"', () => {
    const c = loadServerConfig({ TIMEBOX_METRICS_TOKEN: '', PORT: '', TIMEBOX_SIEM_SYSLOG: '' });
    expect(c.TIMEBOX_METRICS_TOKEN).toBeUndefined();
    expect(c.TIMEBOX_SIEM_SYSLOG).toBeUndefined();
    // Not 0 (any free port): the default.
    expect(c.PORT).toBe(8420);
  });

  it.each([
    ['a metrics token a scraper could never send', { TIMEBOX_METRICS_TOKEN: 'correct horse battery staple, stapled' }, /TIMEBOX_METRICS_TOKEN: must be printable ASCII without spaces/],
    // /metrics does not count wrong tokens (see config.ts): the token itself must resist guessing.
    ['a metrics token short enough to guess', { TIMEBOX_METRICS_TOKEN: '0123456789abcdef' }, /TIMEBOX_METRICS_TOKEN: must be at least 32 characters/],
    ['a metrics token typed by hand', { TIMEBOX_METRICS_TOKEN: 'metric'.repeat(6) }, /TIMEBOX_METRICS_TOKEN: looks typed, not random/],
    ['a SIEM token with a line break', { TIMEBOX_SIEM_HTTP: 'https://c.example.com/', TIMEBOX_SIEM_HTTP_TOKEN: 'a\nb' }, /TIMEBOX_SIEM_HTTP_TOKEN: must be printable ASCII/],
    ['syslog on port 0', { TIMEBOX_SIEM_SYSLOG: 'tls://siem.example.com:0' }, /TIMEBOX_SIEM_SYSLOG: must name a port other than 0/],
  ])('refuses %s, naming it', (_case, env, message) => {
    expect(() => loadServerConfig(env)).toThrow(SettingsError);
    expect(() => loadServerConfig(env)).toThrow(message);
  });
});
