/**
 * `timebox jit-settings show | set` and `timebox reconcile`, run as a person runs them (a child
 * process against a real server), on the in-memory fake target: the settings are shown, saved
 * and enforced, and drift made on the target is repaired by `timebox reconcile`.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReconciler } from '../../src/app/reconcile.js';
import { fakeTargetState } from '../../src/connectors/fake/fake-connector.js';
import { apiLogin, apiPost, runCli, startTestServer, type TestServer } from '../cli/harness.js';

let server: TestServer;
let env: Record<string, string>;
const instance = `jit-settings-cli-${randomUUID()}`;

beforeAll(async () => {
  server = await startTestServer();
  const token = await apiLogin(server);
  const T = '/api/v1/tenants/default';
  const target = await apiPost<{ target: { id: string } }>(server, token, `${T}/targets`, {
    name: 'billing-db',
    kind: 'fake',
    config: { instance, entitlements: ['readers', 'writers'] },
  });
  await apiPost(server, token, `${T}/policies`, {
    name: 'short', targetId: target.target.id, requesterRoles: ['owner'], maxDurationSeconds: 4 * 3600, defaultDurationSeconds: 3600,
  });
  await apiPost(server, token, `${T}/groups`, { name: 'helpdesk', memberIds: [] });
  env = { TIMEBOX_SERVER: server.url, TIMEBOX_TOKEN: token, TIMEBOX_CONFIG: `${server.dir}/cli.json` };
});
afterAll(async () => {
  await server?.close();
});

// Each test runs four or five CLI processes one after another; on a busy machine each may take
// several seconds to start. No assertion here rests on how long anything takes.
describe('timebox jit-settings and reconcile', { timeout: 150_000 }, () => {
  it('shows, saves (validated against the target) and enforces the settings', async () => {
    const none = await runCli(['jit-settings', 'show', 'billing-db'], { env });
    expect(none).toMatchObject({ code: 0, stderr: '' });
    expect(none.stdout).toMatch(/^Target billing-db has no JIT settings/);

    const bad = await runCli(['jit-settings', 'set', 'billing-db', '--group', 'nope'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('timebox: target "billing-db" has no group "nope"; pick groups from its entitlement list\n');

    const set = await runCli(['jit-settings', 'set', 'billing-db', '--group', 'readers', '--creator-group', 'helpdesk'], { env });
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('Saved the JIT settings of billing-db.');
    expect(set.stdout).toMatch(/JIT accounts:\s+enabled/);
    expect(set.stdout).toContain('Allowed privileged groups:\n  readers\n');
    expect(set.stdout).toContain('and members of:\n  helpdesk\n');

    const json = await runCli(['jit-settings', 'show', 'billing-db', '--json'], { env });
    expect(JSON.parse(json.stdout)).toMatchObject({ configured: true, enabled: true, allowedGroups: ['readers'] });

    const refused = await runCli(['request', '--target', 'billing-db', '--entitlement', 'writers', '--reason', 'INC-8 fix the billing rows'], { env });
    expect(refused.code).toBe(5);
    expect(refused.stderr).toBe('timebox: JIT accounts on target "billing-db" may only get the groups chosen in its JIT settings; not allowed: "writers"\n');
  });

  it('timebox reconcile repairs an account enabled behind Timebox\'s back', async () => {
    const granted = await runCli(['request', '--target', 'billing-db', '--entitlement', 'readers', '--reason', 'INC-9 read the billing rows', '--account-name', 'owner_jit', '--json'], { env });
    expect(granted.stderr).toBe('');
    const grant = JSON.parse(granted.stdout);
    expect(grant.grant.state).toBe('active');
    const revoked = await runCli(['grants', 'revoke', grant.grant.id, '--reason', 'done'], { env });
    expect(revoked.code).toBe(0);
    const account = fakeTargetState(instance).accounts.get('owner_jit')!;
    expect(account.enabled).toBe(false);

    account.enabled = true;
    account.entitlements.add('readers');
    const run = await runCli(['reconcile'], { env });
    expect(run).toMatchObject({ code: 0, stdout: 'Checked 1 JIT account(s): 1 drifted, 1 repaired, 0 failed, 0 skipped.\n' });
    expect(run.stderr).toContain('drift.detected, drift.repaired');
    expect(account.enabled).toBe(false);
    expect([...account.entitlements]).toEqual([]);

    const again = await runCli(['reconcile', '--json'], { env });
    expect(JSON.parse(again.stdout)).toEqual({ checked: 1, drifted: 0, repaired: 0, failed: 0, skipped: 0 });
  });

  it('one reconciler at a time across processes: a second one finds the lease taken', async () => {
    // Two reconcilers on one database, as two server processes would have; a slow target keeps
    // the first one busy.
    const [a, b] = [createReconciler(server.tb.deps), createReconciler(server.tb.deps)];
    const state = fakeTargetState(instance);
    state.latencyMs = 300;
    try {
      const first = a.runOnce();
      const held = async () =>
        (await server.tb.store.db.selectFrom('settings').select('key').where('key', '=', 'reconciler:all').executeTakeFirst()) !== undefined;
      for (let i = 0; i < 100 && !(await held()); i++) await new Promise((r) => setTimeout(r, 20));
      expect(await held()).toBe(true);
      expect(await b.runOnce()).toMatchObject({ busy: true, checked: 0 });
      expect(await first).toMatchObject({ busy: false, checked: 1 });
      // Released at the end of the run: the next one goes ahead.
      expect(await b.runOnce()).toMatchObject({ busy: false, checked: 1 });
    } finally {
      state.latencyMs = 0;
    }
  });
});
