/**
 * A PostgreSQL target without an ssl setting: the statements that say who gets which role cross
 * the connection, so a server elsewhere is reached with TLS, checked; one on this host without.
 */
import { describe, expect, it } from 'vitest';
import { postgresConfigSchema } from './config.js';

const base = { user: 'timebox_svc', password: 'x' };

describe('the ssl default', () => {
  it.each([
    ['db.example.com', 'verify-full'],
    ['10.0.0.5', 'verify-full'],
    ['127.0.0.1', 'disable'],
    ['localhost', 'disable'],
    ['::1', 'disable'],
    ['/var/run/postgresql', 'disable'],
  ])('host %s: %s', (host, ssl) => {
    expect(postgresConfigSchema.parse({ ...base, host }).ssl).toBe(ssl);
  });

  it('keeps what is given', () => {
    expect(postgresConfigSchema.parse({ ...base, host: 'db.example.com', ssl: 'disable' }).ssl).toBe('disable');
    expect(postgresConfigSchema.parse({ ...base, host: '127.0.0.1', ssl: 'require' }).ssl).toBe('require');
  });
});
