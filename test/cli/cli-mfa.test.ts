/** An authenticator app from the CLI: enrol, then sign in with (and without) its code. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startTestServer, type TestServer } from './harness.js';

let server: TestServer;
let env: Record<string, string>;
let configFile: string;
let secret: string;

beforeAll(async () => {
  server = await startTestServer();
  configFile = path.join(server.dir, 'cli.json');
  env = { TIMEBOX_CONFIG: configFile };
});
afterAll(async () => {
  await server?.close();
});

const cli = (args: string[], input?: string) => runCli(args, { env, input });
const login = (...extra: string[]) =>
  cli(['login', '--server', server.url, '--email', server.admin.email, '--password-stdin', ...extra], `${server.admin.password}\n`);
// The server runs on real time; `offset` 30 is the app's next code, accepted (±1 step) and
// later than any code used before it, so no test has to wait for the clock.
const codeAt = (offset = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + offset });
let recovery: string[] = [];
const savedToken = async () => (JSON.parse(await readFile(configFile, 'utf8')) as { token?: string }).token;

describe('timebox mfa and login', () => {
  it('mfa enroll shows the secret and URI, and --code confirms the enrolment', async () => {
    expect((await login()).code).toBe(0);
    const started = await cli(['mfa', 'enroll']);
    expect(started.code).toBe(0);
    secret = /^ {2}secret: ([A-Z2-7]{32})$/m.exec(started.stdout)?.[1] ?? '';
    expect(secret).not.toBe('');
    expect(started.stdout).toContain(`  URI:    otpauth://totp/Timebox:admin%40localhost?secret=${secret}&issuer=Timebox\n`);
    expect(started.stderr).toBe('timebox: to finish, run: timebox mfa enroll --code CODE (the 6-digit code the app shows)\n');

    const confirmed = await cli(['mfa', 'enroll', '--code', await codeAt()]);
    expect(confirmed.stderr).toBe('');
    expect(confirmed.stdout).toMatch(/^Authenticator app enrolled; signing in now also asks for its code\.\nRecovery codes \(each works once, .*not shown again\):\n( {2}[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}\n){10}$/);
    recovery = [...confirmed.stdout.matchAll(/^ {2}([a-z2-9-]{14})$/gm)].map((m) => m[1]!);
    expect(confirmed.code).toBe(0);
  });

  it('login without --totp says the code is needed (exit 3) and keeps the old session', async () => {
    const before = await savedToken();
    const r = await login();
    expect(r.stderr).toBe('timebox: this account needs the 6-digit code from your authenticator app: pass --totp CODE\n');
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(await savedToken()).toBe(before);
  });

  it('login with --totp signs in; the same code a second time is refused (exit 3)', async () => {
    const code = await codeAt(30);
    const ok = await login('--totp', code);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`Signed in to ${server.url} as ${server.admin.email}`);

    const again = await login('--totp', code);
    expect(again.stderr).toBe('timebox: that code is wrong or was already used\n');
    expect(again.code).toBe(3);
  });

  it('login with a recovery code signs in once (the app is lost)', async () => {
    const ok = await login('--totp', recovery[0]!);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const again = await login('--totp', recovery[0]!);
    expect(again.stderr).toBe('timebox: that code is wrong or was already used\n');
    expect(again.code).toBe(3);
  });

  it('mfa disable with a wrong code is refused (exit 3) without telling a signed-in person to sign in again', async () => {
    const right = await codeAt();
    const r = await cli(['mfa', 'disable', '--code', `${(Number(right[0]) + 1) % 10}${right.slice(1)}`]);
    expect(r.stderr).toBe('timebox: that code is wrong or was already used\n');
    expect(r.code).toBe(3);
  });
});
