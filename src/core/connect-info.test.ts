import { describe, expect, it } from 'vitest';
import { connectInfo, dnsDomainOf, shellWord, type ConnectInfo, type ConnectInput } from './connect-info.js';

const endsAt = new Date('2026-05-01T12:00:00.000Z');
const none = { host: null, port: null, database: null, domain: null, command: null, endsAt: endsAt.toISOString() };

type Row = [name: string, input: Omit<ConnectInput, 'endsAt'>, expected: Partial<ConnectInfo>];

const table: Row[] = [
  ['postgres: a conninfo line with host, port, user and database',
    { kind: 'postgres', config: { host: 'db.example.com', port: 5433, database: 'orders', user: 'svc', password: 'secret' }, username: 'ann_jit' },
    { host: 'db.example.com', port: 5433, database: 'orders', command: 'psql "host=db.example.com port=5433 user=ann_jit dbname=orders"' }],
  ['postgres: defaults port 5432 and database postgres; sslmode when TLS is on',
    { kind: 'postgres', config: { host: '10.0.0.5', ssl: 'verify-full' }, username: 'ann' },
    { port: 5432, database: 'postgres', command: 'psql "host=10.0.0.5 port=5432 user=ann dbname=postgres sslmode=verify-full"' }],
  ['postgres: a database name with a space and a quote is quoted for the shell, never spliced',
    { kind: 'postgres', config: { host: 'db', port: 5432, database: "it's db" }, username: 'ann' },
    { command: `psql -h db -p 5432 -U ann -d 'it'\\''s db'` }],
  ['mariadb: the client asks for the password itself',
    { kind: 'mariadb', config: { host: 'maria.example.com', port: 3306, user: 'svc', password: 'x' }, username: 'ann_jit' },
    { host: 'maria.example.com', port: 3306, database: null, command: 'mariadb -h maria.example.com -P 3306 -u ann_jit -p' }],
  ['active directory: domain from the base DN, host and default LDAPS port from the URL',
    { kind: 'active-directory', config: { url: 'ldaps://dc1.corp.example.com', baseDn: 'OU=JIT,DC=corp,DC=example,DC=com', bindPassword: 'x' }, username: 'ann-jit' },
    { host: 'dc1.corp.example.com', port: 636, domain: 'corp.example.com', command: 'runas /netonly /user:ann-jit@corp.example.com cmd' }],
  ['active directory: an explicit port wins',
    { kind: 'active-directory-groups', config: { url: 'ldap://10.1.2.3:3389/', baseDn: 'DC=lab,DC=test' }, username: 'bob' },
    { host: '10.1.2.3', port: 3389, domain: 'lab.test' }],
  ['linux agent: ssh to the host the agent runs on',
    { kind: 'linux-agent', config: { agentId: 'x' }, username: 'ann', agentHostname: 'web1.example.com' },
    { host: 'web1.example.com', port: null, command: 'ssh ann@web1.example.com' }],
  ['linux agent without a known host: no command', { kind: 'linux-agent-users', config: {}, username: 'ann' }, { host: null, command: null }],
  ['kinds without a place to connect to: only the end time', { kind: 'security-token', config: { audience: 'x' }, username: 'ann' }, none],
  ['a config that is not an object gives nothing, never a throw', { kind: 'postgres', config: null, username: 'ann' }, { host: null, command: null }],
];

describe('connectInfo', () => {
  it.each(table)('%s', (_name, input, expected) => {
    const info = connectInfo({ ...input, endsAt });
    expect(info).toMatchObject({ ...expected, endsAt: '2026-05-01T12:00:00.000Z' });
    expect(Object.keys(info).sort()).toEqual(['command', 'database', 'domain', 'endsAt', 'host', 'port']);
  });

  it('never shows the service account or its password', () => {
    const info = connectInfo({ kind: 'postgres', config: { host: 'h', user: 'timebox_svc', password: 'hunter2' }, username: 'ann', endsAt });
    expect(JSON.stringify(info)).not.toMatch(/timebox_svc|hunter2/);
  });

  it('shellWord quotes anything a shell would interpret', () => {
    expect(shellWord('ann@host')).toBe('ann@host');
    expect(shellWord('a;rm -rf /')).toBe(`'a;rm -rf /'`);
    expect(shellWord('$(id)')).toBe(`'$(id)'`);
  });

  it('dnsDomainOf reads the DC parts only', () => {
    expect(dnsDomainOf('CN=Users,DC=Corp,DC=Example,DC=com')).toBe('corp.example.com');
    expect(dnsDomainOf('O=acme')).toBeNull();
  });
});
