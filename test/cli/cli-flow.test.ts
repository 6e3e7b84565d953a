/**
 * The CLI as a person uses it, against a real server: sign in, connect a target, set a policy,
 * get access (password shown once), list, revoke, enable again, verify the audit log.
 */
import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeLogin, fakeTargetState } from '../../src/connectors/fake/fake-connector.js';
import { runCli, startTestServer, type CliResult, type TestServer } from './harness.js';

const instance = `cli-flow-${randomUUID()}`;
let server: TestServer;
let env: Record<string, string>;
let configFile: string;
let grantId: string;
let username: string;
let enabledPassword: string;

const cli = (args: string[], input?: string) => runCli(args, { env, input });
const passwordIn = (r: CliResult) => /^\s*password: (\S+)$/m.exec(r.stdout)?.[1];

beforeAll(async () => {
  server = await startTestServer();
  configFile = path.join(server.dir, 'config', 'cli.json');
  env = { TIMEBOX_CONFIG: configFile };
});
afterAll(async () => {
  await server?.close();
});

describe('timebox CLI against a live server', () => {
  it('login reads the password from stdin and saves the session in a 0600 config file', async () => {
    const r = await cli(['login', '--server', server.url, '--email', server.admin.email, '--password-stdin'], `${server.admin.password}\n`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Signed in to ${server.url} as ${server.admin.email}`);
    expect(r.stdout).toContain('Tenants: default (owner)');

    expect((await stat(configFile)).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, string>;
    expect(saved).toMatchObject({ server: server.url, email: server.admin.email });
    expect(saved.token).toMatch(/^tb_/);
    // Neither the token nor the password is ever echoed.
    expect(r.stdout).not.toContain(saved.token);
    expect(r.stdout).not.toContain(server.admin.password);
  });

  it('adds a fake target (printing its check report) and a policy', async () => {
    const config = JSON.stringify({ instance, entitlements: ['readers', 'writers'] });
    const t = await cli(['targets', 'add', '--name', 'orders-db', '--kind', 'fake', '--config', config]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/Added target orders-db \(fake\), id [0-9a-f-]{36}/);
    expect(t.stdout).toContain('connection: in-memory fake target');
    expect(t.stdout).toContain('Check passed.');

    const p = await cli(['policies', 'add', '--name', 'ops', '--target', 'orders-db', '--max', '4h', '--default', '1h', '--roles', 'requester,owner', '--reason-min', '5']);
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/^target: +orders-db$/m);
    expect(p.stdout).toMatch(/^max: +4h$/m);
    expect(p.stdout).toMatch(/^default: +1h$/m);
  });

  it('targets update changes settings (other keys keep their value) and prints the new check', async () => {
    const r = await cli(['targets', 'update', 'orders-db', '--config', JSON.stringify({ entitlements: ['readers', 'writers', 'auditors'] })]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Updated target orders-db (fake).');
    expect(r.stdout).toContain('Check passed.');
    const bare = await cli(['targets', 'update', 'orders-db']);
    expect(bare.code).not.toBe(0);
    expect(bare.stderr).toMatch(/nothing to change/);
  });

  it('request prints a working password once; grants credential afterwards is refused (exit 5)', async () => {
    const r = await cli(['request', '--target', 'orders-db', '--entitlement', 'readers', '--duration', '1h30m', '--reason', 'investigate INC-42']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Access granted on orders-db: readers for 1h30m');
    expect(r.stdout).toContain('shown only this once');
    expect(r.stdout).toMatch(/until: +\d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 1h(29m\d+s|30m)\)/);
    grantId = /\(grant ([0-9a-f-]{36})\)/.exec(r.stdout)![1]!;
    username = /username: (\S+)/.exec(r.stdout)![1]!;
    const password = passwordIn(r)!;
    // The printed password really opens the account on the target.
    expect(fakeLogin(instance, username, password)).toBe(true);

    const again = await cli(['grants', 'credential', grantId]);
    expect(again.code).toBe(5);
    expect(again.stderr).toBe('timebox: the password was already shown once and is not stored any more\n');
    expect(again.stdout).toBe('');
  });

  it('grants list shows the grant active', async () => {
    const r = await cli(['grants', 'list']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^ID +STATE +TARGET +ENTITLEMENTS +ACCOUNT +REQUESTED BY +ENDS$/);
    const row = r.stdout.split('\n').find((l) => l.startsWith(grantId));
    expect(row).toMatch(new RegExp(`^${grantId} +active +orders-db +readers +${username} +${server.admin.email} `));
  });

  it('grants revoke ends the grant and the account loses access', async () => {
    const r = await cli(['grants', 'revoke', grantId, '--reason', 'done with INC-42']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Grant ${grantId} is revoked; ${username} no longer has readers on orders-db.\n`);
    const account = fakeTargetState(instance).accounts.get(username)!;
    expect(account.enabled).toBe(false);
    expect([...account.entitlements]).toEqual([]);
  });

  it('jit-accounts enable grants access again and prints a new password once', async () => {
    const list = await cli(['jit-accounts', 'list', '--json']);
    expect(list.code).toBe(0);
    const accounts = JSON.parse(list.stdout) as { id: string; username: string; status: string }[];
    expect(accounts).toEqual([expect.objectContaining({ username, status: 'disabled' })]);

    const r = await cli(['jit-accounts', 'enable', accounts[0]!.id, '--reason', 'follow-up on INC-42', '--duration', '15m', '--ticket', 'CHG-4242']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Access granted on orders-db: readers for 15m');
    // The ticket went with it, as with a request (a policy may require one).
    const asked = JSON.parse((await cli(['audit', 'list', '--action', 'grant.requested', '--limit', '1', '--json'])).stdout) as { items: Array<{ after: { ticket: string | null } }> };
    expect(asked.items[0]!.after.ticket).toBe('CHG-4242');
    // The table names the people and things, not their ids.
    const row = (await cli(['audit', 'list', '--action', 'grant.requested', '--limit', '1'])).stdout.split('\n')[1]!;
    expect(row).toContain(` ${server.admin.email} `);
    expect(row).toContain(`${username}@orders-db`);
    expect(row).not.toMatch(/operator:[0-9a-f]{8}/);
    expect(r.stdout).toContain('shown only this once');
    expect(fakeLogin(instance, username, passwordIn(r)!)).toBe(true);
    enabledPassword = passwordIn(r)!;
  });

  it('jit-accounts rotate prints a fresh password once and the old one stops working', async () => {
    const [account] = JSON.parse((await cli(['jit-accounts', 'list', '--json'])).stdout) as { id: string }[];
    const r = await cli(['jit-accounts', 'rotate', account!.id]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('The previous password no longer works');
    const fresh = passwordIn(r)!;
    expect(fresh).not.toBe(enabledPassword);
    expect(fakeLogin(instance, username, fresh)).toBe(true);
    expect(fakeLogin(instance, username, enabledPassword)).toBe(false);
  });

  it('jit-accounts delete is refused while a grant holds the account, then removes it from the target', async () => {
    const [account] = JSON.parse((await cli(['jit-accounts', 'list', '--json'])).stdout) as { id: string }[];
    const held = await cli(['jit-accounts', 'delete', account!.id]);
    expect(held.code).not.toBe(0);
    expect(held.stderr).toMatch(/active grant .*end it first/);
    const live = JSON.parse((await cli(['grants', 'list', '--json'])).stdout) as { items: { id: string; state: string }[] };
    for (const g of live.items.filter((x) => x.state === 'active')) expect((await cli(['grants', 'revoke', g.id, '--reason', 'done'])).code).toBe(0);

    const r = await cli(['jit-accounts', 'delete', account!.id]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Deleted JIT account ${account!.id}.\n`);
    expect(fakeTargetState(instance).accounts.has(username)).toBe(false);
    expect(JSON.parse((await cli(['jit-accounts', 'list', '--json'])).stdout)).toEqual([]);
  });

  it('audit verify reports an intact chain with exit code 0', async () => {
    const r = await cli(['audit', 'verify']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Audit log intact: \d+ events checked in \d+ chain\(s\), \d+ matching a signed checkpoint.*\.$/m);
  });

  it('policies remove takes the policy out, by name as the list shows it: nobody can request under it any more', async () => {
    const [policy] = JSON.parse((await cli(['policies', 'list', '--json'])).stdout) as { id: string; name: string }[];
    const unknown = await cli(['policies', 'remove', 'no-such-policy']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain(`no policy named "no-such-policy" in tenant default; policies: ${policy!.name}`);
    const r = await cli(['policies', 'remove', policy!.name]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`Removed policy ${policy!.name} (${policy!.id}).\n`);
    expect(JSON.parse((await cli(['policies', 'list', '--json'])).stdout)).toEqual([]);
    const refused = await cli(['request', '--target', 'orders-db', '--entitlement', 'readers', '--duration', '1h', '--reason', 'investigate INC-43']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/no access policy exists/);
  });
});
