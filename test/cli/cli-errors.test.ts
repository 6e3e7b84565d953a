/** What a person sees when things go wrong: a clear `timebox: ...` line and a distinct exit code. */
import { randomUUID } from 'node:crypto';
import { access, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from '../harness/postgres.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiLogin, apiPost, closedPort, runCli, startTestServer, type TestServer } from './harness.js';

let server: TestServer;
/** Signed in through TIMEBOX_SERVER / TIMEBOX_TOKEN; the config file does not exist. */
let env: Record<string, string>;
let configFile: string;

beforeAll(async () => {
  server = await startTestServer();
  const token = await apiLogin(server);
  const target = await apiPost<{ target: { id: string } }>(server, token, '/api/v1/tenants/default/targets', {
    name: 'billing-db',
    kind: 'fake',
    config: { instance: `cli-errors-${randomUUID()}`, entitlements: ['readers', 'writers'] },
  });
  await apiPost(server, token, '/api/v1/tenants/default/policies', {
    name: 'short',
    targetId: target.target.id,
    requesterRoles: ['owner'],
    maxDurationSeconds: 4 * 3600,
    defaultDurationSeconds: 3600,
  });
  configFile = path.join(server.dir, 'cli.json');
  env = { TIMEBOX_CONFIG: configFile, TIMEBOX_SERVER: server.url, TIMEBOX_TOKEN: token };
});
afterAll(async () => {
  await server?.close();
});

const request = (duration: string) => ['request', '--target', 'billing-db', '--entitlement', 'readers', '--duration', duration, '--reason', 'nightly batch fix'];

describe('timebox CLI errors', () => {
  it('a bad duration is a usage error (exit 2) naming the accepted forms', async () => {
    const r = await runCli(request('5x'), { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('timebox: ');
    expect(r.stderr).toContain('invalid duration "5x"; use a number with a unit, such as 90s, 15m, 2h, 1d or 1h30m');
    expect(r.stdout).toBe('');
  });

  it('a duration over the policy maximum is refused (exit 5) with the policy message', async () => {
    const r = await runCli(request('5h'), { env });
    expect(r.stderr).toBe('timebox: the duration 5h is longer than policy "short" allows (4h)\n');
    expect(r.code).toBe(5);
    expect(r.stdout).toBe('');
  });

  it('an unknown grant id is not found (exit 4)', async () => {
    const id = randomUUID();
    const r = await runCli(['grants', 'show', id], { env });
    expect(r.stderr).toBe(`timebox: grant ${id} not found\n`);
    expect(r.code).toBe(4);
  });

  it('a wrong password is refused (exit 3) and saves nothing', async () => {
    const r = await runCli(['login', '--server', server.url, '--email', server.admin.email, '--password-stdin'], {
      env: { TIMEBOX_CONFIG: configFile },
      input: 'not-the-password\n',
    });
    expect(r.stderr).toBe('timebox: email or password is incorrect\n');
    expect(r.code).toBe(3);
    await expect(access(configFile)).rejects.toThrow(/ENOENT/);
  });

  it('a server URL given with the API path still reaches the server', async () => {
    const r = await runCli(['login', '--server', `${server.url}/api/v1/`, '--email', server.admin.email, '--password-stdin'], {
      env: { TIMEBOX_CONFIG: configFile },
      input: 'not-the-password\n',
    });
    expect(r.stderr).toBe('timebox: email or password is incorrect\n');
    expect(r.code).toBe(3);
  });

  it('https:// to a server that speaks plain HTTP says to use http://', async () => {
    const url = server.url.replace(/^http:/, 'https:');
    const r = await runCli(['grants', 'list', '--tenant', 'default'], { env: { ...env, TIMEBOX_SERVER: url } });
    expect(r.stderr).toBe(`timebox: cannot reach the server at ${url}: it does not speak TLS there; use http:// for this address\n`);
    expect(r.code).toBe(6);
  });

  it('without a session, commands say how to sign in (exit 3)', async () => {
    const r = await runCli(['grants', 'list'], { env: { TIMEBOX_CONFIG: configFile } });
    expect(r.stderr).toMatch(/^timebox: not signed in; run: timebox login --server URL --email EMAIL/);
    expect(r.code).toBe(3);
  });

  it('a server that is down is unreachable (exit 6), without a stack trace', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await runCli(['grants', 'list', '--tenant', 'default'], { env: { ...env, TIMEBOX_SERVER: url } });
    expect(r.stderr).toBe(`timebox: cannot reach the server at ${url}: connection refused\n`);
    expect(r.code).toBe(6);
  });
  it('a key file that never ends (a device) or is not UTF-8 is refused (exit 2) before anything is sent', async () => {
    const bad = path.join(server.dir, 'latin1.pub');
    await writeFile(bad, Buffer.from([0x73, 0x73, 0x68, 0x2d, 0xe9, 0x0a]));
    for (const [file, says] of [
      ['/dev/urandom', 'is larger than 16 KiB'],
      [bad, 'is not UTF-8 text'],
    ] as const) {
      const req = await runCli([...request('1h'), '--public-key-file', file], { env });
      expect(req.code).toBe(2);
      expect(req.stderr).toBe(`timebox: ${file} ${says}; expected a public key or CSR\n`);
      const add = await runCli(['ssh-keys', 'add', '--name', 'laptop', '--file', file], { env });
      expect(add.code).toBe(2);
      expect(add.stderr).toBe(`timebox: ${file} ${says}; expected an OpenSSH public key (.pub)\n`);
    }
    // Nothing was requested.
    const grants = await runCli(['grants', 'list', '--json'], { env });
    expect(JSON.parse(grants.stdout)).toEqual(expect.objectContaining({ items: [] }));
  });
});

describe('timebox serve with settings that cannot work', () => {
  it('names the setting (exit 2, never "unexpected error") and creates nothing', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ TIMEBOX_SIEM_SYSLOG: 'tls://127.0.0.1:0' }, /TIMEBOX_SIEM_SYSLOG: must name a port other than 0/],
      [{ TIMEBOX_SIEM_HTTP: 'https://collector.example.com/in', TIMEBOX_SIEM_HTTP_TOKEN: 'abc\r\nX-Evil: 1' }, /TIMEBOX_SIEM_HTTP_TOKEN: must be printable ASCII without spaces or line breaks/],
      [{ TIMEBOX_SIEM_SYSLOG: 'tls://siem.example.com:6514', TIMEBOX_SIEM_SYSLOG_CA: '/etc/passwd' }, /TIMEBOX_SIEM_SYSLOG_CA: \/etc\/passwd holds no PEM certificate/],
      [{ TIMEBOX_SIEM_SYSLOG: 'tls://siem.example.com:6514', TIMEBOX_SIEM_SYSLOG_CA: '/nonexistent/ca.pem' }, /TIMEBOX_SIEM_SYSLOG_CA: cannot read \/nonexistent\/ca.pem \(ENOENT\)/],
      [{ TIMEBOX_METRICS_TOKEN: 'correct horse battery staple, stapled' }, /TIMEBOX_METRICS_TOKEN: must be printable ASCII without spaces/],
      [{ TIMEBOX_SIEM_HTTP: 'https://127.0.0.1:8088/services/collector' }, /TIMEBOX_SIEM_HTTP: 127\.0\.0\.1 is a loopback address, which the server may not connect to unless TIMEBOX_OUTBOUND_ALLOW allows it/],
      [{ TIMEBOX_SIEM_HTTP_TOKEN: 'abc' }, /TIMEBOX_SIEM_HTTP_TOKEN without TIMEBOX_SIEM_HTTP: set the sink, or remove what belongs to it/],
      [{ TIMEBOX_SIEM_SYSLOG: 'tls://siem.example.com', TIMEBOX_SIEM_RETRY_BASE_MS: '600000', TIMEBOX_SIEM_RETRY_MAX_MS: '10' }, /TIMEBOX_SIEM_RETRY_BASE_MS \(600000\) is above TIMEBOX_SIEM_RETRY_MAX_MS \(10\)/],
    ];
    for (const [settings, message] of cases) {
      const dataDir = path.join(server.dir, `never-${randomUUID()}`);
      const r = await runCli(['serve'], { env: { PORT: '0', TIMEBOX_DATA_DIR: dataDir, TIMEBOX_LOG_LEVEL: 'silent', ...settings } });
      const what = JSON.stringify(settings);
      expect(r.code, `${what}: ${r.stderr}`).toBe(2);
      expect(r.stderr, what).toMatch(/^timebox: invalid server settings: /);
      expect(r.stderr, what).toMatch(message);
      expect(r.stdout, what).toBe('');
      // No database, no master key, no signing key: the next start is a first start.
      await expect(access(dataDir), what).rejects.toThrow(/ENOENT/);
    }
  });

  it('names HOST when it is not an address of this machine', async () => {
    const r = await runCli(['serve'], { env: { PORT: '0', HOST: '999.1.1.1', TIMEBOX_DATA_DIR: path.join(server.dir, `host-${randomUUID()}`), TIMEBOX_LOG_LEVEL: 'silent' } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^timebox: cannot listen on HOST=999\.1\.1\.1: it is not an address of this machine \(ENOTFOUND\)/);
  });

  it('says what is wrong with a DATABASE_URL that leads nowhere, without its password', async () => {
    const port = await freePort();
    const r = await runCli(['serve'], {
      env: { PORT: '0', DATABASE_URL: `postgres://nobody:s3cret-pw@127.0.0.1:${port}/db`, TIMEBOX_DATA_DIR: path.join(server.dir, `url-${randomUUID()}`), TIMEBOX_LOG_LEVEL: 'silent' },
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toBe(`timebox: cannot open the store at DATABASE_URL (127.0.0.1:${port}/db): nothing listens there (is PostgreSQL running, on that port?)\n`);
  });
});
