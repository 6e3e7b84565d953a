/**
 * Own passwords and members through the CLI, as a person uses it: the first owner signs in with
 * the printed password and is told to change it; nothing else works until they do (with the
 * reason when the new one is weak); changing it ends their other sessions. Then members are
 * invited (the link shown once, no password anywhere) and offboarded from the command line.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, ownPassword, tokenOf } from '../support/http.js';
import { runCli, startTestServer, type TestServer } from './harness.js';

let server: TestServer;
let env: Record<string, string>;
const printed = { password: '' };
const cli = (args: string[], input?: string) => runCli(args, { env, input });

beforeAll(async () => {
  server = await startTestServer({ firstPasswordChanged: false });
  env = { TIMEBOX_CONFIG: path.join(server.dir, 'config', 'cli.json') };
  printed.password = server.admin.password;
});
afterAll(async () => {
  await server?.close();
});

describe('the printed password', () => {
  const next = ownPassword();

  it('signs in, but says to change it, and nothing else works until then', async () => {
    const login = await cli(['login', '--server', server.url, '--email', server.admin.email, '--password-stdin'], `${printed.password}\n`);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain('change it before anything else with timebox password change');

    const blocked = await cli(['members', 'list', '--tenant', 'default']);
    expect(blocked.code).not.toBe(0);
    expect(blocked.stderr).toContain('you must change the password you were given before anything else: run timebox password change');
    // whoami still answers, and says what is pending.
    const who = await cli(['whoami']);
    expect(who.code).toBe(0);
    expect(who.stdout).toMatch(/signed in:\s+with a session, until /);
    expect(who.stderr).toContain('change it (timebox password change) before anything else works');
  });

  it('refuses a weak new password with the reason', async () => {
    const weak = await cli(['password', 'change', '--password-stdin'], `${printed.password}\npassword1234\n`);
    expect(weak.code).not.toBe(0);
    expect(weak.stderr).toMatch(/too easy to guess/);
    const short = await cli(['password', 'change', '--password-stdin'], `${printed.password}\nshort\n`);
    expect(short.stderr).toContain('at least 12 characters');
  });

  it('refuses a wrong current password', async () => {
    const wrong = await cli(['password', 'change', '--password-stdin'], `not-the-password\n${next}\n`);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('the current password is not correct');
  });

  it('changes it: other sessions end, this one goes on, the old password is dead', async () => {
    const other = await apiClient(server.url).post('/api/v1/auth/login', { email: server.admin.email, password: printed.password });
    expect(other.status).toBe(200);
    const changed = await cli(['password', 'change', '--password-stdin'], `${printed.password}\n${next}\n`);
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout).toContain('Password changed. 1 other session(s) ended; this one stays signed in.');
    expect((await apiClient(server.url, other.body.token).get('/api/v1/me')).status).toBe(401);
    expect((await cli(['members', 'list', '--tenant', 'default'])).code).toBe(0);
    expect((await apiClient(server.url).post('/api/v1/auth/login', { email: server.admin.email, password: printed.password })).status).toBe(401);
    expect((await apiClient(server.url).post('/api/v1/auth/login', { email: server.admin.email, password: next })).status).toBe(200);
  });
});

describe('members from the CLI', () => {
  let id = '';
  let password = '';
  it('invites: the link shown once, no password anywhere', async () => {
    const added = await cli(['members', 'add', '--tenant', 'default', '--email', 'ivy@example.com', '--roles', 'requester']);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/^Invited ivy@example.com to default as requester; the link works once, until /m);
    expect(added.stdout).not.toMatch(/password:/i);
    const link = /Invitation link .*: (\S+)$/m.exec(added.stdout)?.[1];
    password = ownPassword();
    expect((await apiClient(server.url).post('/api/v1/invitations/accept', { token: tokenOf(link ?? null), password })).status).toBe(200);
  });

  it('lists an invitation not accepted yet, and withdraws it by email', async () => {
    const added = await cli(['members', 'add', '--tenant', 'default', '--email', 'zed@example.com', '--roles', 'approver']);
    const link = /Invitation link .*: (\S+)$/m.exec(added.stdout)?.[1];
    const list = await cli(['members', 'list', '--tenant', 'default']);
    expect(list.stdout).toMatch(/^Invited, not joined yet:\n(.*\n)?zed@example.com +approver +/m);
    const notYet = await cli(['members', 'disable', 'zed@example.com', '--tenant', 'default', '--reason', 'wrong person']);
    expect(notYet.code).toBe(4);
    expect(notYet.stderr).toContain('zed@example.com is invited to tenant default but has not joined yet; to take the invitation back: timebox members uninvite zed@example.com');
    const withdrawn = await cli(['members', 'uninvite', 'ZED@example.com', '--tenant', 'default']);
    expect(withdrawn.code, withdrawn.stderr).toBe(0);
    expect(withdrawn.stdout).toBe('Withdrew the invitation of zed@example.com to default: its link no longer works.\n');
    expect((await apiClient(server.url).post('/api/v1/invitations/accept', { token: tokenOf(link ?? null), password: ownPassword() })).status).toBe(409);
    expect((await cli(['members', 'list', '--tenant', 'default'])).stdout).not.toContain('zed@example.com');
    const again = await cli(['members', 'uninvite', 'zed@example.com', '--tenant', 'default']);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('no pending invitation "zed@example.com" in tenant default');
  });

  it('disables (session 401 at once) and lists the member as disabled here', async () => {
    const ivy = await apiClient(server.url).post('/api/v1/auth/login', { email: 'ivy@example.com', password });
    id = ivy.body.operator.id as string;

    // By email, as `members remove` and `members role` take them.
    const disabled = await cli(['members', 'disable', 'IVY@example.com', '--tenant', 'default', '--reason', 'left the team']);
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(disabled.stdout).toContain('ivy@example.com disabled in default: 1 session(s)/token(s) ended');
    expect((await apiClient(server.url, ivy.body.token).get('/api/v1/me')).status).toBe(401);
    const list = await cli(['members', 'list', '--tenant', 'default']);
    expect(list.stdout).toMatch(/ivy@example.com +ivy +requester +here /);
    // New roles do not undo the offboarding, and the answer says so.
    const roles = await cli(['members', 'role', 'ivy@example.com', '--roles', 'requester,approver', '--tenant', 'default']);
    expect(roles.code, roles.stderr).toBe(0);
    expect(roles.stdout).toContain('ivy@example.com now has roles in default: requester, approver (still disabled in default: they cannot sign in here until `timebox members enable ivy@example.com`)');
    const back = await cli(['members', 'role', 'ivy@example.com', '--roles', 'requester', '--tenant', 'default', '--json']);
    expect(JSON.parse(back.stdout)).toMatchObject({ roles: ['requester'], disabledHere: true });
  });

  it('enables (sign-in only) and ends sessions without disabling', async () => {
    // By operator id too.
    const enabled = await cli(['members', 'enable', id, '--tenant', 'default']);
    expect(enabled.stdout).toContain('ivy@example.com enabled: they can sign in again; their grants stay ended');
    const again = await apiClient(server.url).post('/api/v1/auth/login', { email: 'ivy@example.com', password });
    const ended = await cli(['members', 'end-sessions', 'ivy@example.com', '--tenant', 'default', '--reason', 'lost phone']);
    expect(ended.stdout).toContain('ivy@example.com: 1 session(s) and API token(s) ended.');
    const stranger = await cli(['members', 'disable', 'nobody@example.com', '--tenant', 'default', '--reason', 'x']);
    expect(stranger.code).toBe(4);
    expect(stranger.stderr).toContain('no member "nobody@example.com" in tenant default');
    expect((await apiClient(server.url, again.body.token).get('/api/v1/me')).status).toBe(401);
  });
});
