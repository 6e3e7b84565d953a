import { describe, expect, it } from 'vitest';
import { connectInfo } from './connect-info.js';

const endsAt = new Date('2026-05-01T10:30:00Z');

describe('how to connect', () => {
  it.each([
    [
      'postgres',
      { host: 'db.example.com', port: 5433, database: 'app', user: 'admin', password: 'secret' },
      'alice_jit',
      { host: 'db.example.com', port: 5433, database: 'app', domain: null, command: `psql 'host=db.example.com port=5433 dbname=app user=alice_jit'` },
    ],
    [
      'postgres',
      { host: 'db', database: "it's data" },
      'bob',
      { host: 'db', port: 5432, database: "it's data", domain: null, command: `psql 'host=db port=5432 dbname='\\''it\\'\\''s data'\\'' user=bob'` },
    ],
    ['mariadb', { host: 'maria.example.com', port: 3306 }, 'carol_jit', { host: 'maria.example.com', port: 3306, database: null, domain: null, command: 'mariadb -h maria.example.com -P 3306 -u carol_jit -p' }],
    ['active-directory', { url: 'ldaps://dc1.corp.example.com:636', baseDn: 'OU=Staff,DC=corp,DC=example,DC=com' }, 'dave', { host: 'dc1.corp.example.com', port: null, database: null, domain: 'corp.example.com', command: null }],
    ['security-token', {}, 'erin@example.com', { host: null, port: null, database: null, domain: null, command: null }],
  ])('%s', (kind, config, username, expected) => {
    expect(connectInfo({ kind, config, username, endsAt })).toEqual({ ...expected, endsAt: '2026-05-01T10:30:00.000Z' });
  });
});
