/**
 * The dashboard's approval workflows in a real browser (Debian's chromium through playwright-core)
 * against a real Timebox and a real PostgreSQL target, with two people in two browser contexts:
 * a request appears in the approver's inbox and its outcome on the requester's page as it
 * happens, without a reload; a shortened approval gives a password that works with psql; a denial
 * shows its reason. The policy editor saves levels and windows, and shows the server's objections
 * inline (saving nothing). An authenticator app enrolled in Settings is asked for when a policy
 * demands a fresh code. Settings (groups, notifications), Active Directory targets.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startReceiver } from '../notify/support.js';
import { preparePgTarget, psql, type PgTarget } from '../support/pg-target.js';
import { addMember, type ApiClient } from '../support/http.js';
import { builtSpa, launchChromium, screenshotDir, startWebServer, type WebServer } from './support.js';

const T = '/api/v1/tenants/default';
const hex = randomBytes(3).toString('hex');
type Person = { email: string; password: string; id: string; api: ApiClient };

describe('approval workflows in the dashboard', () => {
  let server: WebServer;
  let target: PgTarget;
  let targetId = '';
  let browser: Browser;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  let rita: Person; // requester
  let alan: Person; // approver
  let R: Page; // rita's browser
  let A: Page; // alan's browser
  let O: Page; // the owner's browser
  let alanSecret = '';
  const problems: string[] = [];

  const shot = (page: Page, name: string, fullPage = false) => page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage });
  const nav = (page: Page, name: string) => page.getByRole('navigation', { name: /sections$/ }).getByRole('link', { name, exact: true }).click();
  const heading = (page: Page, name: string) => page.getByRole('heading', { level: 1, name }).waitFor();
  const textOf = async (l: ReturnType<Page['locator']>) => (await l.textContent())?.trim() ?? '';
  const mark = (page: Page) => page.evaluate('window.timeboxMarker = 7');
  const notReloaded = async (page: Page) => expect(await page.evaluate('window.timeboxMarker')).toBe(7);
  /** The code of the server's current 30-second step; the clock is moved on between uses (each code works once). */
  const code = (secret: string) => generate({ secret, epoch: Math.floor(server.clock.now().getTime() / 1000) });

  async function person(name: string, roles: string[]): Promise<Person> {
    const email = `${name}.${hex}@example.com`;
    const m = await addMember(server.url, server.admin, 'default', email, roles);
    return { email, password: m.password, id: m.id, api: m.api };
  }

  async function openAs(email: string, password: string): Promise<Page> {
    const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1366, height: 768 } });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 40[0-9]/.test(m.text())) problems.push(m.text());
    });
    await page.goto('/');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading(page, 'Just-in-time accounts');
    return page;
  }

  beforeAll(async () => {
    const adminUrl = inject('pgAdminUrl');
    const [pgTarget] = await Promise.all([preparePgTarget(adminUrl), mkdir(screenshotDir, { recursive: true })]);
    target = pgTarget;
    server = await startWebServer({ adminUrl, distDir: builtSpa(), pollMs: 200 });
    hooks = await startReceiver();
    targetId = (await server.admin.post(`${T}/targets`, { name: 'orders-db', kind: 'postgres', config: target.config })).body.target.id;
    rita = await person('rita', ['requester']);
    alan = await person('alan', ['approver']);
    const policy = await server.admin.post(`${T}/policies`, {
      name: 'orders read',
      targetId,
      entitlements: [target.readers],
      requesterRoles: ['requester'],
      maxDurationSeconds: 3600,
      defaultDurationSeconds: 3600,
      rules: { approvalLevels: [{ name: 'db owners', approverIds: [alan.id] }], extension: { allowed: true, maxTotalSeconds: 7200, selfApprove: false } },
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);
    browser = await launchChromium();
    [R, A, O] = [await openAs(rita.email, rita.password), await openAs(alan.email, alan.password), await openAs(server.adminLogin.email, server.adminLogin.password)];
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await hooks?.close();
    await target?.drop();
  });

  it('shows a denial, with its reason, to the requester without a reload', async () => {
    await nav(A, 'Approvals');
    await A.getByText('Nothing is waiting for your approval.').waitFor();
    await nav(R, 'Requests');
    await R.getByText('You have not requested any access yet.').waitFor();
    await Promise.all([mark(A), mark(R)]);

    const asked = await rita.api.post(`${T}/requests`, { targetId, entitlements: [target.readers], durationSeconds: 3600, reason: 'INC-7001 look at the orders', ticket: 'INC-7001' });
    expect(asked.body.state).toBe('requested');
    const mine = R.locator(`tr[data-grant="${asked.body.id}"]`);
    await mine.getByText('(level 1 of 1)').waitFor();
    expect(await textOf(mine.getByTestId('request-status'))).toBe('Waiting for approval(level 1 of 1)');

    const card = A.getByRole('article', { name: `${rita.email} asks for access to orders-db` });
    await card.getByText('INC-7001 look at the orders').waitFor();
    expect(await textOf(card.getByTestId('approval-progress'))).toBe('Level 1 of 1 · 0 of 1 approval at this level');
    await card.getByRole('button', { name: 'Deny…' }).click();
    const dialog = A.getByRole('dialog', { name: `Deny: ${rita.email} on orders-db` });
    await dialog.getByRole('button', { name: 'Deny' }).click();
    expect(await textOf(A.locator('#decision-reason-error'))).toBe('Say why you deny it: the requester sees this reason.');
    await dialog.getByLabel('Reason').fill('not during the freeze');
    await dialog.getByRole('button', { name: 'Deny' }).click();
    await A.getByRole('status').getByText(`Denied the request of ${rita.email}.`).waitFor();
    await A.getByText('Nothing is waiting for your approval.').waitFor();

    await mine.getByText('Denied').waitFor();
    await mine.getByText('“not during the freeze”').waitFor();
    await shot(R, 'requests-denied');
    await Promise.all([notReloaded(A), notReloaded(R)]);
  });

  it('asks in one browser, shortens and approves in the other; the requester’s page turns active and the password works', async () => {
    await nav(R, 'Just-in-time accounts');
    await R.getByRole('link', { name: 'Activate JIT account' }).click();
    await R.getByRole('button', { name: /PostgreSQL/ }).click();
    expect(await R.getByLabel('Username').getAttribute('readonly')).not.toBeNull(); // made by the denied request
    await R.getByLabel('Search groups and roles').fill(target.readers);
    await R.getByRole('checkbox', { name: target.readers }).check();
    expect(await textOf(R.getByTestId('policy-name'))).toBe('orders read');
    await R.getByLabel('Reason').fill('INC-7002 reconcile the orders table');
    await R.getByLabel('Ticket (optional)').fill('INC-7002');
    await shot(R, 'activate-for-approval');
    await R.getByRole('button', { name: 'Send for approval' }).click();
    await R.getByRole('status').getByText('Your request was sent and waits for approval.').waitFor();

    await nav(R, 'Just-in-time accounts');
    const row = R.locator(`tr[data-account="rita_${hex}_jit"]`);
    await row.getByText('Waiting for approval').waitFor();
    await row.getByText('(level 1 of 1)').waitFor();
    await shot(R, 'jit-accounts-waiting');
    await mark(R);

    const card = A.getByRole('article', { name: `${rita.email} asks for access to orders-db` });
    await card.getByText('INC-7002 reconcile the orders table').waitFor(); // arrived without a reload
    await notReloaded(A);
    expect(await textOf(card.locator('dd').filter({ hasText: target.readers }))).toBe(target.readers);
    await card.getByText('nobody yet').waitFor();
    await shot(A, 'approvals');
    await card.getByRole('button', { name: 'Shorten…' }).click();
    const dialog = A.getByRole('dialog', { name: `Shorten and approve: ${rita.email} on orders-db` });
    await dialog.getByLabel('Duration to grant').fill('2h');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    expect(await textOf(A.locator('#decision-duration-error'))).toBe('You may shorten it, not lengthen it: at most 1h.');
    await dialog.getByLabel('Duration to grant').fill('30m');
    await dialog.getByLabel('Comment (optional)').fill('30 minutes are enough');
    await shot(A, 'approvals-shorten');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await A.getByRole('status').getByText(`Approved: ${rita.email} has access to orders-db for 30m.`).waitFor();
    await A.getByText('Nothing is waiting for your approval.').waitFor();

    await row.getByText('Active').waitFor();
    expect(await textOf(row.locator('.countdown'))).toMatch(/^ends in (29|30)m \d\ds$/);
    await notReloaded(R);
    await row.getByRole('button', { name: `Actions for rita_${hex}_jit` }).click();
    await R.getByRole('menuitem', { name: 'Show password' }).click();
    const pw = R.getByRole('dialog', { name: 'Your JIT account is ready' });
    await pw.getByRole('button', { name: 'Reveal password' }).click();
    const password = await pw.getByLabel('Password').inputValue();
    expect(await psql(target, `rita_${hex}_jit`, password, 'select count(*) from orders')).toMatchObject({ ok: true, stdout: '2' });
    await pw.getByRole('button', { name: 'Done' }).click();

    // More time: the policy sends extensions to the approvers; approved, the end moves.
    await row.getByRole('button', { name: `Actions for rita_${hex}_jit` }).click();
    await R.getByRole('menuitem', { name: 'Extend' }).click();
    const extend = R.getByRole('dialog', { name: `Extend rita_${hex}_jit` });
    await extend.getByLabel('More time').fill('15m');
    await extend.getByLabel('Reason').fill('the reconciliation runs long');
    await extend.getByRole('button', { name: 'Extend' }).click();
    await extend.getByRole('status').getByText('Sent for approval.', { exact: false }).waitFor();
    await shot(R, 'extend-sent');
    await extend.getByRole('button', { name: 'Done' }).click();

    await nav(A, 'Requests'); // extensions do not change the grant, so the stream cannot announce them
    await nav(A, 'Approvals');
    const ext = A.getByRole('article', { name: `${rita.email} asks for 15m more on orders-db` });
    await ext.getByText('the reconciliation runs long').waitFor();
    await ext.getByRole('button', { name: 'Approve' }).click();
    await A.getByRole('dialog', { name: `Approve: 15m more for ${rita.email}` }).getByRole('button', { name: 'Approve' }).click();
    await A.getByText('Nothing is waiting for your approval.').waitFor();
    await expect.poll(() => textOf(row.locator('.countdown'))).toMatch(/^ends in 4[45]m \d\ds$/);
  });

  it('creates a policy with two levels and a window in the editor; bad input shows the server’s message inline and saves nothing', async () => {
    await nav(O, 'Policies');
    await O.getByRole('button', { name: 'New policy' }).click();
    const form = O.getByRole('form', { name: 'New policy' });
    await form.getByLabel('Name', { exact: true }).fill('prod change');
    await form.getByLabel('Target').selectOption({ label: 'orders-db' });
    await form.getByRole('group', { name: 'People' }).getByRole('checkbox', { name: rita.email }).check();
    await form.getByRole('button', { name: 'Add window' }).click();
    const win = form.getByTestId('window-1');
    await win.getByLabel('Time zone').selectOption('Europe/Berlin');
    await win.getByLabel('To', { exact: true }).fill('08:00'); // the same as "From": never opens
    await form.getByRole('button', { name: 'Add approval level' }).click();
    await form.getByRole('button', { name: 'Add approval level' }).click();
    const one = form.getByTestId('level-1');
    await one.getByLabel('Name (optional)').fill('db owners');
    await one.getByRole('group', { name: 'Approvers of level 1' }).getByRole('checkbox', { name: alan.email }).check();
    await one.getByLabel('Quorum').fill('2'); // only one approver
    const two = form.getByTestId('level-2');
    await two.getByRole('group', { name: 'Approvers of level 2' }).getByRole('checkbox', { name: server.adminLogin.email }).check();
    await form.getByLabel('A ticket or change number is required').check();
    await form.getByLabel('Ticket pattern (optional)').fill('(a)\\1');
    await form.getByLabel('Allow break-glass (emergency) access').check();
    await form.getByLabel('Schedule a start up to (days ahead)').fill('7');
    await form.getByRole('button', { name: 'Create policy' }).click();

    await form.getByRole('alert').getByText('The policy was not saved: the server found 3 problems, shown below.').waitFor();
    await one.getByRole('alert').getByText('approvalLevels[0] needs 2 approvals but has only 1 possible approver(s)').waitFor();
    await win.getByRole('alert').getByText('windows[0] never opens: the window opens and closes at the same time (08:00)').waitFor();
    await O.locator('#policy-ticket-pattern-error').getByText('backreferences').waitFor();
    await shot(O, 'policy-editor-errors', true);
    const names = async () => (await server.admin.get(`${T}/policies`)).body.items.map((p: { name: string }) => p.name);
    expect(await names()).not.toContain('prod change');

    await one.getByLabel('Quorum').fill('1');
    await win.getByLabel('To', { exact: true }).fill('18:00');
    await form.getByLabel('Ticket pattern (optional)').fill('CHG-[0-9]+');
    await form.getByRole('button', { name: 'Create policy' }).click();
    await O.getByRole('status').getByText('Policy “prod change” created.').waitFor();
    const saved = (await server.admin.get(`${T}/policies`)).body.items.find((p: { name: string }) => p.name === 'prod change');
    expect(saved).toMatchObject({
      targetId,
      requesterRoles: ['requester'],
      rules: {
        requesterOperatorIds: [rita.id],
        windows: [{ timeZone: 'Europe/Berlin', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' }],
        approvalLevels: [
          { name: 'db owners', approverIds: [alan.id], groupIds: [], quorum: 1 },
          { approverIds: [expect.any(String)], groupIds: [], quorum: 1 },
        ],
        ticket: { required: true, pattern: 'CHG-[0-9]+' },
        breakGlass: { allowed: true },
        maxScheduleAheadDays: 7,
      },
    });
    await O.getByRole('row', { name: /prod change/ }).getByText('Mon–Fri 08:00–18:00 Europe/Berlin').waitFor();
    await shot(O, 'policies');

    await O.getByRole('button', { name: 'Simulate' }).click();
    await O.getByLabel('Person').selectOption(rita.email);
    await O.locator('#sim-target').selectOption({ label: 'orders-db' });
    await O.getByLabel('Groups / roles', { exact: true }).fill(target.readers);
    await O.getByRole('button', { name: 'Simulate', exact: true }).last().click();
    const result = O.getByRole('status', { name: 'Simulation result' });
    await result.getByText('Waits for approval').waitFor();
    expect(await textOf(result)).toContain(`under policy “orders read”.Level 1: 1 approval from ${alan.email}`);
    await shot(O, 'policies-simulate');

    // A requester, who cannot list members, simulates their own asks: they are the one choice.
    await nav(R, 'Policies');
    await R.getByRole('button', { name: 'Simulate' }).click();
    expect(await R.getByLabel('Person').inputValue()).toBe(rita.email);
    await R.locator('#sim-target').selectOption({ label: 'orders-db' });
    await R.getByLabel('Groups / roles', { exact: true }).fill(target.readers);
    await R.getByRole('button', { name: 'Simulate', exact: true }).last().click();
    await R.getByRole('status', { name: 'Simulation result' }).getByText('Waits for approval').waitFor();
  });

  it('edits a policy as a new version, keeping what the form does not show, and removes one', async () => {
    const made = await server.admin.post(`${T}/policies`, {
      name: 'night shift',
      targetId,
      requesterRoles: ['requester'],
      maxDurationSeconds: 3600,
      defaultDurationSeconds: 1800,
      pendingTtlSeconds: 7200,
      rules: { windows: [{ timeZone: 'UTC', days: ['sat'], from: '22:00', to: '06:00', dates: { from: '2026-01-01', to: '2030-12-31' } }] },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    await nav(O, 'Targets'); // away and back: the list is loaded afresh
    await nav(O, 'Policies');
    await O.getByRole('button', { name: 'Edit policy night shift' }).click();
    const form = O.getByRole('form', { name: 'Edit policy “night shift”' });
    expect(await form.getByLabel('Maximum duration').inputValue()).toBe('1h');
    await form.getByLabel('Maximum duration').fill('2h');
    await form.getByLabel('Default duration').fill('3h');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await form.locator('#policy-default-error').getByText('The default cannot be longer than the maximum.').waitFor();
    await form.getByLabel('Default duration').fill('1h');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await O.getByRole('status').getByText('Policy “night shift” saved.', { exact: false }).waitFor();
    const saved = (await server.admin.get(`${T}/policies`)).body.items.filter((p: { name: string }) => p.name === 'night shift');
    expect(saved).toEqual([
      expect.objectContaining({
        maxDurationSeconds: 7200,
        defaultDurationSeconds: 3600,
        pendingTtlSeconds: 7200,
        rules: expect.objectContaining({ windows: [expect.objectContaining({ days: ['sat'], dates: { from: '2026-01-01', to: '2030-12-31' } })] }),
      }),
    ]);
    expect(saved[0].id).not.toBe(made.body.id);

    await O.getByRole('button', { name: 'Remove policy night shift' }).click();
    const confirm = O.getByRole('dialog', { name: 'Remove policy “night shift”?' });
    await shot(O, 'policy-remove');
    await confirm.getByRole('button', { name: 'Remove policy' }).click();
    await O.getByRole('status').getByText('Policy “night shift” removed.').waitFor();
    const names = (await server.admin.get(`${T}/policies`)).body.items.map((p: { name: string }) => p.name);
    expect(names).not.toContain('night shift');
  });

  it('offers the policy’s ticket and break-glass in the activate wizard, with a warning', async () => {
    await R.goto('/t/default/jit-accounts/activate');
    await R.getByRole('button', { name: /PostgreSQL/ }).click();
    await R.getByLabel('Search groups and roles').fill(target.readers);
    await R.getByRole('checkbox', { name: target.readers }).check();
    await R.getByRole('button', { name: 'Change policy' }).click();
    await R.getByRole('combobox', { name: 'JIT policy' }).selectOption({ label: 'prod change (default 1h, max 4h)' });
    await R.getByRole('combobox', { name: 'JIT policy' }).press('Enter');
    await R.getByLabel('Ticket', { exact: true }).fill('INC-1');
    await R.getByLabel('Start (optional)').waitFor(); // the policy allows scheduling up to 7 days ahead
    await shot(R, 'activate-scheduled');
    await R.getByLabel('Emergency (break-glass)').check();
    await R.getByLabel('Start (optional)').waitFor({ state: 'detached' }); // an emergency starts now
    await R.getByText('Break-glass skips the approvers and the access windows.').waitFor();
    await R.getByLabel('Reason').fill('orders table locked, shop is down');
    await R.getByRole('button', { name: 'Activate now (break-glass)' }).click();
    expect(await textOf(R.locator('#ticket-error'))).toBe('The ticket does not have the expected form (CHG-[0-9]+).');
    await shot(R, 'activate-break-glass');
    await R.getByRole('link', { name: 'Cancel' }).click();
  });

  it('manages groups, notifications and Active Directory targets', async () => {
    await nav(O, 'Settings');
    const tabs = O.getByRole('navigation', { name: 'Settings pages' });
    await tabs.getByRole('link', { name: 'Groups' }).click();
    await O.getByLabel('Group name').fill('db approvers');
    await O.getByRole('group', { name: 'Members' }).getByRole('checkbox', { name: alan.email }).check();
    await O.getByRole('button', { name: 'Create group' }).click();
    const group = O.getByRole('listitem', { name: 'Group db approvers' });
    await group.getByText(alan.email).waitFor();
    await group.getByLabel('Add a member to db approvers').selectOption({ label: rita.email });
    await group.getByRole('button', { name: 'Add', exact: true }).click();
    await group.getByRole('button', { name: `Remove ${rita.email} from db approvers` }).waitFor();
    await shot(O, 'settings-groups');
    await group.getByRole('button', { name: `Remove ${rita.email} from db approvers` }).click();
    await O.getByRole('status').getByText(`${rita.email} removed from “db approvers”.`).waitFor();
    const groups = (await server.admin.get(`${T}/groups`)).body.items;
    expect(groups).toEqual([expect.objectContaining({ name: 'db approvers', memberIds: [alan.id] })]);

    await tabs.getByRole('link', { name: 'Notifications' }).click();
    await O.getByLabel('SMTP host').fill('127.0.0.1');
    await O.getByLabel('Port', { exact: true }).fill('2525');
    await O.getByLabel('Username (optional)').fill('relay');
    await O.getByLabel('Password', { exact: true }).fill('relay-password-1');
    await O.getByLabel('From address').fill('timebox@example.com');
    await O.getByLabel('Require TLS').uncheck();
    await O.getByRole('button', { name: 'Save email settings' }).click();
    await O.getByRole('status').getByText('Email settings saved.').waitFor();
    expect(await O.getByLabel('Password', { exact: true }).inputValue()).toBe('');
    await O.getByText('A password is stored. It is never shown; empty keeps it.').waitFor();
    const settings = await server.admin.get(`${T}/settings/notifications`);
    expect(settings.body.smtp).toMatchObject({ host: '127.0.0.1', port: 2525, username: 'relay', passwordSet: true });
    expect(JSON.stringify(settings.body)).not.toContain('relay-password-1');

    await O.getByLabel('Webhook name').fill('ops');
    await O.getByLabel('URL', { exact: true }).fill(`${hooks.base}/hook`);
    await O.getByRole('button', { name: 'Add webhook' }).click();
    expect((await O.getByLabel('Signing secret').inputValue()).length).toBeGreaterThanOrEqual(24);
    await O.getByRole('listitem', { name: 'Webhook ops' }).getByRole('button', { name: 'Send test' }).click();
    await O.getByText('Delivered: the receiver answered 200.').waitFor();
    expect(hooks.requests).toHaveLength(1);
    await shot(O, 'settings-notifications', true);

    await nav(O, 'Targets');
    await O.getByRole('button', { name: 'Add target' }).click();
    await O.getByLabel('Kind').selectOption({ label: 'Active Directory' });
    await O.getByLabel('Name', { exact: true }).fill('corp-ad');
    await O.getByLabel('Domain controller URL').fill('ldap://dc1.example.com');
    await O.getByLabel('Service account (bind DN)').fill('svc-timebox@example.com');
    await O.getByLabel('Service account password').fill('bind-password-1');
    await O.getByLabel('CA certificate (PEM)').fill('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----');
    await O.getByLabel('Base DN').fill('DC=example,DC=com');
    await O.getByLabel('OU for JIT accounts').fill('OU=JIT,DC=other,DC=com');
    await O.getByRole('button', { name: 'Add target' }).click();
    await O.locator('#target-url-error').getByText('plain LDAP would send the service account password').waitFor();
    await O.locator('#target-jit-ou-error').getByText('must be inside baseDn DC=example,DC=com').waitFor();
    await shot(O, 'targets-ad');
    expect((await server.admin.get(`${T}/targets`)).body.items.map((t: { name: string }) => t.name)).toEqual(['orders-db']);
    await O.getByRole('button', { name: 'Cancel' }).click();
  });

  it('enrols an authenticator app in Settings; a policy demanding a fresh code on approve asks for it', async () => {
    await nav(A, 'Settings');
    await A.getByRole('navigation', { name: 'Settings pages' }).getByRole('link', { name: 'Security' }).click();
    await A.getByRole('button', { name: 'Set up authenticator app' }).click();
    expect(await A.getByLabel('otpauth link').inputValue()).toMatch(/^otpauth:\/\/totp\/.*secret=/);
    alanSecret = (await textOf(A.getByTestId('mfa-secret'))).replace(/\s+/g, '');
    await shot(A, 'settings-security');
    await A.getByLabel('Code from the app').fill(await code(alanSecret));
    await A.getByRole('button', { name: 'Confirm' }).click();
    await A.getByRole('status').getByText('Your authenticator app is set up.', { exact: false }).waitFor();
    // Ten recovery codes, shown once.
    const recovery = (await A.getByLabel('Recovery codes', { exact: true }).inputValue()).split('\n');
    expect(recovery).toHaveLength(10);
    for (const c of recovery) expect(c).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
    await shot(A, 'settings-recovery-codes');
    await A.getByRole('button', { name: 'I have saved them' }).click();
    expect(await A.getByLabel('Recovery codes', { exact: true }).count()).toBe(0);

    const p = await server.admin.post(`${T}/policies`, {
      name: 'orders write',
      targetId,
      entitlements: [target.writers],
      requesterRoles: ['requester'],
      maxDurationSeconds: 3600,
      defaultDurationSeconds: 1800,
      rules: { approvalLevels: [{ approverIds: [alan.id] }], mfa: { approve: true } },
    });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const asked = await rita.api.post(`${T}/requests`, { targetId, entitlements: [target.writers], reason: 'CHG-42 fix a wrong order' });
    expect(asked.body.state).toBe('requested');

    await nav(A, 'Approvals');
    const card = A.getByRole('article', { name: `${rita.email} asks for access to orders-db` });
    await card.getByText('CHG-42 fix a wrong order').waitFor();
    await card.getByRole('button', { name: 'Approve' }).click();
    const dialog = A.getByRole('dialog', { name: `Approve: ${rita.email} on orders-db` });
    await dialog.getByRole('button', { name: 'Approve' }).click();
    expect(await textOf(A.locator('#decision-totp-error'))).toBe('Enter the code from your authenticator app to continue.');
    await shot(A, 'approve-totp');
    server.clock.shift(30_000);
    await dialog.getByLabel('Authenticator code').fill(await code(alanSecret));
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await A.getByRole('status').getByText(`Approved: ${rita.email} has access to orders-db for 30m.`).waitFor();
    expect((await rita.api.get(`${T}/grants/${asked.body.id}`)).body.state).toBe('active');

    // Signing in asks for a code from now on.
    await A.getByRole('button', { name: 'Sign out' }).click();
    await A.getByLabel('Email').fill(alan.email);
    await A.getByLabel('Password').fill(alan.password);
    await A.getByRole('button', { name: 'Sign in' }).click();
    server.clock.shift(30_000);
    await A.getByLabel('Authenticator code').fill(await code(alanSecret));
    await A.getByRole('button', { name: 'Sign in' }).click();
    await heading(A, 'Just-in-time accounts');
  });

  it('saves per-target JIT settings: allowed groups from the target’s live list, and creator groups', async () => {
    await nav(O, 'Settings');
    await O.getByRole('navigation', { name: 'Settings pages' }).getByRole('link', { name: 'JIT accounts' }).click();
    const form = O.getByRole('form', { name: 'JIT settings of orders-db' });
    await form.getByText('Not configured yet', { exact: false }).waitFor();
    await form.getByLabel('JIT accounts may be created and enabled on orders-db').check();
    await form.getByRole('button', { name: 'Save JIT settings' }).click();
    await O.locator('#jit-groups-error').getByText('choose at least one privileged group').waitFor();
    await form.getByLabel('Search the target’s groups').fill(target.writers);
    await form.getByRole('checkbox', { name: target.writers }).check();
    await form.getByRole('group', { name: 'Operator groups who may also create JIT accounts' }).getByRole('checkbox', { name: 'db approvers' }).check();
    await form.getByRole('button', { name: 'Save JIT settings' }).click();
    await O.getByRole('status').getByText('Saved: JIT accounts on orders-db are on.').waitFor();
    await shot(O, 'settings-jit');
    const groupId = (await server.admin.get(`${T}/groups`)).body.items[0].id;
    expect((await server.admin.get(`${T}/targets/${targetId}/jit-settings`)).body).toMatchObject({ configured: true, enabled: true, allowedGroups: [target.writers], creatorGroupIds: [groupId] });
    // Rita is neither an approver nor in "db approvers": the server now refuses her.
    const refused = await rita.api.post(`${T}/requests`, { targetId, entitlements: [target.writers], reason: 'CHG-43 another fix' });
    expect(refused.status).toBe(403);
    expect(problems).toEqual([]);
  });
});
