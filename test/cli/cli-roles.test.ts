/**
 * Every role from the CLI, against a real server: a requester asks and waits, an approver approves,
 * shortens, denies and decides extensions; a policy that wants an authenticator code to request and
 * to reveal works end to end; break-glass; the printed connect line logs in to a real PostgreSQL;
 * "not found" is one exit code; --output json parses everywhere.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fakeLogin } from '../../src/connectors/fake/fake-connector.js';
import { createMember } from '../support/test-server.js';
import { preparePgTarget, type PgTarget } from '../support/pg-target.js';
import { apiLogin, apiPost, runCli, startCli, startTestServer, type CliResult, type TestServer } from './harness.js';

const T = '/api/v1/tenants/default';
const scratch = `cli-roles-${randomUUID()}`;
const vault = `cli-roles-vault-${randomUUID()}`;

let server: TestServer;
let pgTarget: PgTarget;
let adminToken: string;
const people: Record<'rita' | 'alan', { id: string; email: string; token: string }> = {} as never;
let ritaSecret: string;

const envOf = (token: string) => ({ TIMEBOX_SERVER: server.url, TIMEBOX_TOKEN: token, TIMEBOX_CONFIG: path.join(server.dir, 'none.json') });
const as = (who: 'rita' | 'alan' | 'admin', args: string[]) => runCli(args, { env: envOf(who === 'admin' ? adminToken : people[who].token) });
const ok = (r: CliResult) => {
  expect(r.stderr, r.stdout).not.toMatch(/unexpected error/);
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
};
const passwordIn = (r: CliResult) => /^\s*password: (\S+)$/m.exec(r.stdout)?.[1];
const grantIdIn = (text: string) => /grant ([0-9a-f-]{36})/.exec(text)?.[1] ?? '';
// The server runs on real time; each offset is a later step of the app, so no code is used twice.
const codeAt = (offset: number) => generate({ secret: ritaSecret, epoch: Math.floor(Date.now() / 1000) + offset });

async function token(email: string, password: string): Promise<string> {
  const res = await fetch(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  return ((await res.json()) as { token: string }).token;
}

beforeAll(async () => {
  [server, pgTarget] = await Promise.all([startTestServer(), preparePgTarget(inject('pgAdminUrl'))]);
  adminToken = await apiLogin(server);
  await Promise.all(
    ([['rita', ['requester']], ['alan', ['approver']]] as const).map(async ([key, roles]) => {
      const m = await createMember(server.tb, 'default', `${key}@example.test`, [...roles]);
      people[key] = { id: m.id, email: m.email, token: await token(m.email, m.password) };
    }),
  );
  const post = <R>(p: string, body: unknown) => apiPost<R>(server, adminToken, `${T}${p}`, body);
  const target = async (name: string, kind: string, config: unknown) => (await post<{ target: { id: string } }>('/targets', { name, kind, config })).target.id;
  const [orders, scratchId, vaultId] = await Promise.all([
    target('orders-db', 'postgres', pgTarget.config),
    target('scratch', 'fake', { instance: scratch, entitlements: ['readers', 'writers'] }),
    target('vault', 'fake', { instance: vault, entitlements: ['readers'] }),
  ]);
  const approval = {
    approvalLevels: [{ approverIds: [people.alan.id] }],
    breakGlass: { allowed: true },
    extension: { allowed: true, maxTotalSeconds: 8 * 3600 },
  };
  const base = { requesterRoles: ['requester'], maxDurationSeconds: 4 * 3600, defaultDurationSeconds: 3600 };
  await Promise.all([
    post('/policies', { ...base, name: 'orders', targetId: orders, rules: approval }),
    post('/policies', { ...base, name: 'scratch', targetId: scratchId, rules: approval }),
    post('/policies', { ...base, name: 'vault', targetId: vaultId, rules: { mfa: { request: true, reveal: true } } }),
  ]);

  // Rita enrols an authenticator app (the step before the codes the tests use).
  const started = await apiPost<{ secret: string }>(server, people.rita.token, '/api/v1/me/mfa/totp', {});
  ritaSecret = started.secret;
  await apiPost(server, people.rita.token, '/api/v1/me/mfa/totp/confirm', { code: await codeAt(-30) });
});
afterAll(async () => {
  await server?.close();
  await pgTarget?.drop();
});

// Each step is a CLI run, a fresh Node process, and a test takes four to seven of them: on a busy
// machine that is more than the usual minute per test.
const steps = { timeout: 180_000 };

describe('requester and approver from the CLI', steps, () => {
  let ordersGrant: string;

  it('request --wait shows progress, and prints the password and a connect line that logs in once an approver approves', async () => {
    const rita = startCli(['request', '--target', 'orders-db', '--entitlement', pgTarget.readers, '--duration', '1h', '--reason', 'monthly report INC-7', '--wait'], {
      env: envOf(people.rita.token),
    });
    const waiting = await rita.shows(/grant [0-9a-f-]{36} on orders-db: waiting[^\n]*\n[^\n]*waiting for an approver/);
    ordersGrant = grantIdIn(waiting);

    const inbox = ok(await as('alan', ['approvals', 'list']));
    expect(inbox.stdout).toMatch(new RegExp(`^${ordersGrant} +request +rita@example.test +orders-db +${pgTarget.readers} +1h +1/1 \\(0/1\\) +monthly report INC-7`, 'm'));

    const approved = ok(await as('alan', ['approvals', 'approve', ordersGrant, '--reason', 'fine']));
    expect(approved.stdout).toContain(`Approved rita@example.test's request for ${pgTarget.readers} on orders-db (grant ${ordersGrant}); it is now active.`);

    const r = ok(await rita.done);
    expect(r.stderr).toContain('timebox: access is active');
    expect(r.stdout).toContain(`Access granted on orders-db: ${pgTarget.readers} for 1h (grant ${ordersGrant})`);
    expect(r.stdout).toMatch(new RegExp(`^  host: +${pgTarget.host}:${pgTarget.port}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^  database: +${pgTarget.database}$`, 'm'));
    expect(r.stdout).toMatch(/^ {2}until: +\d{4}-\d\d-\d\d \d\d:\d\d UTC \(in (59m\d+s|1h)\)/m);
    const command = /^ {2}connect: +(psql "[^"]+")$/m.exec(r.stdout)?.[1] ?? '';
    expect(command).toMatch(new RegExp(`^psql "host=${pgTarget.host} port=${pgTarget.port} user=\\S+ dbname=${pgTarget.database}"$`));

    // What a person does next: paste the command and the password.
    const conninfo = /^psql "(.*)"$/.exec(command)![1]!;
    const { execFile } = await import('node:child_process');
    const rows = await new Promise<string>((resolve, reject) =>
      execFile('psql', [conninfo, '-X', '-A', '-t', '-c', 'SELECT item FROM orders ORDER BY id'], { env: { ...process.env, PGPASSWORD: passwordIn(r)! } }, (err, out, errOut) =>
        err ? reject(new Error(errOut)) : resolve(out.trim()),
      ),
    );
    expect(rows).toBe('widget\ngadget');
  });

  it('an approver shortens a request; the requester is told what comes next, then gets access for the shorter time', async () => {
    const asked = ok(await as('rita', ['request', '--target', 'scratch', '--entitlement', 'writers', '--duration', '2h', '--reason', 'data fix CHG-3']));
    const id = grantIdIn(asked.stdout);
    expect(asked.stdout).toBe(
      `Requested scratch: writers for 2h (grant ${id}); waiting for approval.\n` +
        'Next: an approver approves or denies it (timebox approvals list, or Approvals in the dashboard).\n' +
        `Wait for the decision and get the password here: timebox grants wait ${id}\n`,
    );

    const longer = await as('alan', ['approvals', 'shorten', id, '--duration', '3h']);
    expect(longer.stderr).toBe('timebox: 3h is not shorter than the 2h asked for\n');
    expect(longer.code).toBe(2);

    const r = ok(await as('alan', ['approvals', 'shorten', id, '--duration', '30m', '--reason', 'half an hour is enough']));
    expect(r.stderr).toBe('timebox: shortened from 2h to 30m\n');
    expect(r.stdout).toContain(`(grant ${id}); it is now active.`);

    const got = ok(await as('rita', ['grants', 'wait', id]));
    expect(got.stdout).toContain(`Access granted on scratch: writers for 30m (grant ${id})`);
    const username = /^ {2}username: (\S+)$/m.exec(got.stdout)![1]!;
    expect(fakeLogin(scratch, username, passwordIn(got)!)).toBe(true);
  });

  let deniedId: string;
  it('an approver denies; the requester sees it', async () => {
    const asked = ok(await as('rita', ['request', '--target', 'scratch', '--entitlement', 'readers', '--reason', 'just curious']));
    deniedId = grantIdIn(asked.stdout);
    const denied = ok(await as('alan', ['approvals', 'deny', deniedId, '--reason', 'no ticket']));
    expect(denied.stdout).toBe(`Denied rita@example.test's request for readers on scratch (grant ${deniedId}).\n`);
    const shown = ok(await as('rita', ['grants', 'show', deniedId, '--output', 'json']));
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: deniedId, state: 'denied' });
  });

  it('waiting on a denied request ends with exit 1; deciding it again is "not found" (exit 4)', async () => {
    const waited = await as('rita', ['grants', 'wait', deniedId]);
    expect(waited.code).toBe(1);
    expect(waited.stdout).toContain(`Grant ${deniedId} on scratch: readers is denied.`);
    expect(waited.stderr).toMatch(/^timebox: access was not granted: /m);

    const again = await as('alan', ['approvals', 'approve', deniedId]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/nothing waiting for your decision has id/);
  });

  it('extensions: the requester asks for more time, the approver approves it from the inbox', async () => {
    const before = JSON.parse(ok(await as('rita', ['grants', 'show', ordersGrant, '--output', 'json'])).stdout) as { expiresAt: string };
    const asked = ok(await as('rita', ['grants', 'extend', ordersGrant, '--duration', '30m', '--reason', 'report runs long']));
    const extensionId = /extension ([0-9a-f-]{36})/.exec(asked.stdout)?.[1] ?? '';
    expect(asked.stdout).toContain('Asked for 30m more');

    const inbox = JSON.parse(ok(await as('alan', ['--output', 'json', 'approvals', 'list'])).stdout) as { items: { kind: string; extensionId: string | null }[] };
    expect(inbox.items).toContainEqual(expect.objectContaining({ kind: 'extension', extensionId }));
    const list = ok(await as('alan', ['approvals', 'list']));
    expect(list.stdout).toMatch(new RegExp(`^${extensionId} +extension +rita@example.test +orders-db .* 30m more .* report runs long`, 'm'));

    const approved = ok(await as('alan', ['approvals', 'approve', extensionId!]));
    expect(approved.stdout).toMatch(/^Extension of 30m approved: grant .* now ends /);
    const after = JSON.parse(ok(await as('rita', ['grants', 'show', ordersGrant, '--output', 'json'])).stdout) as { expiresAt: string };
    expect(Date.parse(after.expiresAt) - Date.parse(before.expiresAt)).toBe(30 * 60_000);
  });

  it('break-glass from the CLI: access at once where the policy allows it, refused (exit 5) where it does not', async () => {
    const r = ok(await as('rita', ['request', '--target', 'scratch', '--entitlement', 'readers', '--emergency', '--reason', 'production down INC-9']));
    expect(r.stderr).toContain('timebox: break-glass: no approval was asked for');
    expect(r.stdout).toContain('Access granted on scratch: readers for 1h');
    const id = grantIdIn(r.stdout);
    expect(JSON.parse(ok(await as('rita', ['grants', 'show', id, '--output', 'json'])).stdout)).toMatchObject({ state: 'active', emergency: true });

    const refused = await as('rita', ['request', '--target', 'vault', '--entitlement', 'readers', '--emergency', '--reason', 'production down INC-9']);
    expect(refused.stderr).toMatch(/does not allow emergency \(break-glass\) access/);
    expect(refused.code).toBe(5);
  });
});

describe('a policy that asks for an authenticator code to request and to reveal', steps, () => {
  it('without a code (no terminal): told which flag to add, exit 3, nothing requested', async () => {
    const r = await as('rita', ['request', '--target', 'vault', '--entitlement', 'readers', '--reason', 'rotate keys CHG-1']);
    expect(r.stderr).toBe('timebox: this policy asks for the 6-digit code from your authenticator app: add --totp CODE\n');
    expect(r.code).toBe(3);
    const mine = JSON.parse(ok(await as('rita', ['grants', 'list', '--mine', '--output', 'json'])).stdout) as { items: { targetName: string }[] };
    expect(mine.items.filter((g) => g.targetName === 'vault')).toEqual([]);
  });

  it('request --totp grants access; the password needs the next code, and then shows and works', async () => {
    const r = ok(await as('rita', ['request', '--target', 'vault', '--entitlement', 'readers', '--reason', 'rotate keys CHG-1', '--totp', await codeAt(0)]));
    const id = grantIdIn(r.stdout);
    expect(r.stdout).toContain('This policy asks for a fresh code from your authenticator app to show the password');
    expect(r.stdout).toContain(`Show it with: timebox grants credential ${id} --totp CODE`);
    expect(passwordIn(r)).toBeUndefined();

    const bare = await as('rita', ['grants', 'credential', id]);
    expect(bare.stderr).toBe('timebox: this policy asks for the 6-digit code from your authenticator app: add --totp CODE\n');
    expect(bare.code).toBe(3);

    const shown = ok(await as('rita', ['grants', 'credential', id, '--totp', await codeAt(30)]));
    const username = /^ {2}username: (\S+)$/m.exec(shown.stdout)![1]!;
    expect(fakeLogin(vault, username, passwordIn(shown)!)).toBe(true);
    expect(shown.stdout).toMatch(/^ {2}until: +\d{4}-\d\d-\d\d \d\d:\d\d UTC \(in /m);
  });

  it('a malformed code is a usage error before anything is sent', async () => {
    const r = await as('rita', ['request', '--target', 'vault', '--entitlement', 'readers', '--reason', 'x', '--totp', '12ab']);
    expect(r.stderr).toMatch(/expected the 6-digit code from your authenticator app/);
    expect(r.code).toBe(2);
  });
});

describe('admins, exit codes and JSON', steps, () => {
  it('members add prints an invitation link; role and remove work by email', async () => {
    const added = ok(await as('admin', ['members', 'add', '--email', 'nia@example.test', '--roles', 'requester']));
    expect(added.stdout).toMatch(/^Invitation link \(shown only this once; .*\): http:\/\/\S+\/invite\/\S+$/m);

    const role = ok(await as('admin', ['members', 'role', 'RITA@example.test', '--roles', 'requester,approver']));
    expect(role.stdout).toBe('rita@example.test now has roles in default: requester, approver\n');
    const listed = JSON.parse(ok(await as('admin', ['members', 'list', '--output', 'json'])).stdout) as { operator: { email: string }; roles: string[] }[];
    expect(listed.find((m) => m.operator.email === 'rita@example.test')?.roles.sort()).toEqual(['approver', 'requester']);

    // Now an approver too, Rita cannot decide her own request: exit 3, as the API's 403 would give.
    const own = grantIdIn(ok(await as('rita', ['request', '--target', 'scratch', '--entitlement', 'readers', '--reason', 'my own request, INC-50'])).stdout);
    const selfApproved = await as('rita', ['approvals', 'approve', own]);
    expect(selfApproved.code, selfApproved.stderr).toBe(3);
    expect(selfApproved.stderr).toContain(`you cannot decide on ${own}: you cannot approve or deny your own request`);
    ok(await as('alan', ['approvals', 'deny', own, '--reason', 'not needed']));

    const extra = await createMember(server.tb, 'default', 'temp@example.test', ['requester']);
    const removed = ok(await as('admin', ['members', 'remove', extra.email]));
    expect(removed.stdout).toBe('temp@example.test is no longer a member of default.\n');
  });

  it('targets delete is refused while a grant is live or a JIT account is left, then deletes; history keeps the name', async () => {
    const api = (method: string, p: string, body?: unknown) =>
      fetch(`${server.url}${T}${p}`, { method, headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const targetId = ((await (await api('POST', '/targets', { name: 'doomed', kind: 'fake', config: { instance: `doomed-${randomUUID()}`, entitlements: ['readers'] } })).json()) as { target: { id: string } }).target.id;
    await api('POST', '/policies', { name: 'doomed', targetId, requesterRoles: ['owner'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 });
    const grant = (await (await api('POST', '/requests', { targetId, entitlements: ['readers'], reason: 'last look before deleting' })).json()) as { id: string; state: string };
    expect(grant.state).toBe('active');

    const live = await as('admin', ['targets', 'delete', 'doomed']);
    expect(live.stderr).toBe('timebox: target "doomed" still has 1 grant that is not over (1 active): revoke or deny them, or wait until they end, then delete it\n');
    expect(live.code).toBe(5);

    await api('POST', `/grants/${grant.id}/revoke`, { reason: 'deleting the target' });
    const accounts = ((await (await api('GET', '/jit-accounts')).json()) as { items: { id: string; targetId: string }[] }).items.filter((a) => a.targetId === targetId);
    expect(accounts).toHaveLength(1);
    const left = await as('admin', ['targets', 'delete', 'doomed']);
    expect(left.stderr).toMatch(/still has 1 JIT account on the system; delete it first/);
    expect(left.code).toBe(5);
    expect((await api('DELETE', `/jit-accounts/${accounts[0]!.id}`)).status).toBe(204);

    const deleted = ok(await as('admin', ['targets', 'delete', 'doomed']));
    expect(deleted.stdout).toBe('Deleted target doomed (fake); past grants and the audit log keep its name.\n');
    const names = (JSON.parse(ok(await as('admin', ['targets', 'list', '--output', 'json'])).stdout) as { name: string }[]).map((t) => t.name);
    expect(names).not.toContain('doomed');
    expect(((await (await api('GET', `/grants/${grant.id}`)).json()) as { targetName: string }).targetName).toBe('doomed');
    expect((await api('POST', '/requests', { targetId, entitlements: ['readers'], reason: 'after deletion' })).status).toBe(404);
    // The name is free again.
    expect((await api('POST', '/targets', { name: 'doomed', kind: 'fake', config: { instance: `doomed-${randomUUID()}`, entitlements: ['readers'] } })).status).toBe(201);
  });

  it('a request whose activation failed says so, with the reason, and exits 1', async () => {
    const post = <R>(p: string, body: unknown) => apiPost<R>(server, adminToken, `${T}${p}`, body);
    const broken = (await post<{ target: { id: string } }>('/targets', { name: 'broken', kind: 'fake', config: { instance: `broken-${randomUUID()}`, entitlements: ['readers'], failGrant: 'permanent' } })).target.id;
    await post('/policies', { name: 'broken', targetId: broken, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 });
    const r = await as('rita', ['request', '--target', 'broken', '--entitlement', 'readers', '--reason', 'INC-9 check the broken one']);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/Access granted/);
    expect(r.stderr).toMatch(/^timebox: access was not granted: fake/m);
  });

  it('a second grant on the same account says its password replaces the first one\'s', async () => {
    const post = <R>(p: string, body: unknown) => apiPost<R>(server, adminToken, `${T}${p}`, body);
    const instance = `twice-${randomUUID()}`;
    const twice = (await post<{ target: { id: string } }>('/targets', { name: 'twice', kind: 'fake', config: { instance, entitlements: ['readers'] } })).target.id;
    await post('/policies', { name: 'twice', targetId: twice, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 });
    const ask = () => as('rita', ['request', '--target', 'twice', '--entitlement', 'readers', '--reason', 'INC-10 two overlapping grants']);
    const first = ok(await ask());
    expect(first.stderr).not.toMatch(/replaces/);
    const second = ok(await ask());
    expect(second.stderr).toContain(`this password replaces the one shown for your other active grant on this account (${grantIdIn(first.stdout)})`);
    const username = /^ {2}username: (\S+)$/m.exec(second.stdout)![1]!;
    expect(fakeLogin(instance, username, passwordIn(first)!)).toBe(false);
    expect(fakeLogin(instance, username, passwordIn(second)!)).toBe(true);
  });

  it('"not found" is exit 4 whatever was not found', async () => {
    const missing = randomUUID();
    const cases: [string[], RegExp][] = [
      [['request', '--target', 'nope', '--entitlement', 'x', '--reason', 'because'], /no target named "nope"/],
      [['grants', 'show', missing], /not found/],
      [['approvals', 'approve', missing], /nothing waiting for your decision/],
      [['members', 'role', 'nobody@example.test', '--roles', 'requester'], /no member "nobody@example.test"/],
      [['jit-settings', 'set', 'scratch', '--creator-group', missing], /no operator group with id/],
      [['jit-settings', 'set', 'scratch', '--creator-group', 'no-such-group'], /no operator group named/],
      [['--tenant', 'nope', 'grants', 'list'], /not found/],
    ];
    for (const [args, message] of cases) {
      const r = await as('admin', args);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(4);
    }
  });

  it('policies list says who must approve under each policy', async () => {
    const r = ok(await as('admin', ['policies', 'list']));
    expect(r.stdout).toMatch(/^orders +orders-db +any +requester +1 of 1 person; break-glass allowed +4h +1h /m);
    expect(r.stdout).toMatch(/^vault +vault +any +requester +none \(at once\) +4h /m);
  });

  it('--output json gives JSON on stdout, before or after the command', async () => {
    const commands = [
      ['--output', 'json', 'approvals', 'list'],
      ['grants', 'list', '--output', 'json'],
      ['targets', 'list', '--output', 'json'],
      ['policies', 'list', '--output', 'json'],
      ['members', 'list', '--output', 'json'],
      ['whoami', '--output', 'json'],
    ];
    for (const args of commands) {
      const r = ok(await as('admin', args));
      expect(() => JSON.parse(r.stdout), args.join(' ')).not.toThrow();
    }
    const bad = await as('admin', ['--output', 'yaml', 'grants', 'list']);
    expect(bad.code).toBe(2);
  });
});
