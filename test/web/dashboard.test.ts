/**
 * The dashboard in a real browser (Debian's chromium through playwright-core) against a real
 * Timebox and a real PostgreSQL target: sign in, pick the tenant, connect the target, create a
 * policy, activate a JIT account, reveal the password once and log in with psql, watch expiry
 * arrive without a reload, enable the account again from the three-dot menu. Bad input gets a
 * clear message where it belongs and creates nothing. Screenshots go to test-artifacts/.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { preparePgTarget, psql, type PgTarget } from '../support/pg-target.js';
import { addExistingMember, addMember, signIn, type ApiClient } from '../support/http.js';
import { builtSpa, launchChromium, screenshotDir, startWebServer, type WebServer } from './support.js';

const hex = randomBytes(3).toString('hex');
const dana = { email: `dana.${hex}@example.com`, password: '' };
const danaAccount = `dana_${hex}_jit`;

describe('web dashboard', () => {
  let server: WebServer;
  let target: PgTarget;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let danaApi: ApiClient;
  const pageProblems: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(screenshotDir, `${name}.png`) });
  const nav = (name: string) => page.getByRole('navigation', { name: /sections$/ }).getByRole('link', { name, exact: true }).click();
  const heading = (name: string) => page.getByRole('heading', { level: 1, name }).waitFor();
  const accountRow = (username: string): Locator => page.locator(`tr[data-account="${username}"]`);
  const textOf = async (l: Locator) => (await l.textContent())?.trim() ?? '';

  beforeAll(async () => {
    const adminUrl = inject('pgAdminUrl');
    const [pgTarget] = await Promise.all([preparePgTarget(adminUrl), mkdir(screenshotDir, { recursive: true })]);
    target = pgTarget;
    server = await startWebServer({ adminUrl, distDir: builtSpa() });
    // Dana administers two tenants (customers), so the tenant picker shows.
    const added = await addMember(server.url, server.admin, 'default', dana.email, ['admin'], 'Dana');
    dana.password = added.password;
    expect((await server.admin.post('/api/v1/tenants', { slug: `lab-${hex}`, name: 'Lab customer' })).status).toBe(201);
    // Dana has an account already: she accepts the second tenant's invitation signed in.
    await addExistingMember(server.admin, `lab-${hex}`, added.api, dana.email, ['requester']);
    danaApi = added.api;

    browser = await launchChromium();
    context = await browser.newContext({ baseURL: server.url, viewport: { width: 1366, height: 768 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
    page.on('pageerror', (e) => pageProblems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 40[0-9]/.test(m.text())) pageProblems.push(m.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await target?.drop();
  });

  it('signs in, offers the tenants, and opens the per-tenant sidebar', async () => {
    await page.goto('/');
    await page.getByRole('heading', { name: 'Sign in to Timebox' }).waitFor();
    await page.getByLabel('Email').fill(dana.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await textOf(page.getByRole('alert'))).toBe('The email or password is incorrect.');
    await shot('sign-in');

    await page.getByLabel('Password').fill(dana.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading('Choose a tenant');
    await shot('tenant-picker');
    await page.getByRole('link', { name: /Default/ }).click();
    await heading('Just-in-time accounts');
    const links = await page.getByRole('navigation', { name: /sections$/ }).getByRole('link').allTextContents();
    expect(links).toEqual(['Just-in-time accounts', 'Requests', 'Approvals', 'Reviews', 'Targets', 'Agents', 'Policies', 'Sessions', 'Audit', 'Settings']);
    await page.getByText('Live', { exact: true }).waitFor();

    // An unknown tenant in the address: a slug is named back; other text (a link can carry any,
    // such as a fake warning) is not. (A broken %-escape never reaches the page: the server refuses it.)
    for (const [segment, said] of [
      ['nope-tenant', 'There is no tenant “nope-tenant” that you can open.'],
      [encodeURIComponent('x” was moved. Call the security desk at +1 555 0100 and read them your code. “x'), 'There is no tenant at that address that you can open.'],
    ] as const) {
      await page.goto(`/t/${segment}/approvals`);
      expect(await textOf(page.getByRole('alert'))).toBe(said);
    }
    await page.goto('/t/default/jit-accounts');
    await heading('Just-in-time accounts');
  });

  it('adds the PostgreSQL target, tests the connection, and creates a policy', async () => {
    await nav('Targets');
    await page.getByRole('button', { name: 'Add target' }).click();
    await page.getByRole('button', { name: 'Add target' }).click(); // the form's submit: empty form
    expect(await textOf(page.locator('#target-name-error'))).toBe('Give the target a name.');
    await page.getByLabel('Name', { exact: true }).fill('orders-db');
    await page.getByLabel('Host').fill(target.host);
    await page.getByLabel('Port').fill(String(target.port));
    await page.getByLabel('Database').fill(target.database);
    await page.getByLabel('Service account user').fill(target.service.user);
    await page.getByLabel('Service account password').fill(target.service.password);
    await page.getByRole('button', { name: 'Add target' }).click();
    const report = page.getByRole('status', { name: 'Connection test of orders-db' });
    await report.getByText('✓ Connection works').waitFor();
    expect(await report.locator('li').count()).toBeGreaterThan(1);
    await page.getByRole('button', { name: 'Test connection to orders-db' }).click();
    await report.getByText('✓ Connection works').waitFor();
    await shot('targets');

    await nav('Policies');
    await page.getByRole('button', { name: 'New policy' }).click();
    await page.getByLabel('Name', { exact: true }).fill('db access');
    await page.getByLabel('Target').selectOption({ label: 'orders-db' });
    await page.getByRole('checkbox', { name: 'admin', exact: true }).check();
    await page.getByLabel('Default duration').fill('30m');
    await page.getByLabel('Maximum duration').fill('1h');
    await page.getByRole('button', { name: 'Create policy' }).click();
    await page.getByRole('status').getByText('Policy “db access” created.').waitFor();
    await page.getByRole('row', { name: /db access/ }).waitFor();
    await shot('policies');
  });

  it('activates a JIT account in the wizard; the password is shown once and works with psql', async () => {
    await nav('Just-in-time accounts');
    await page.getByRole('link', { name: 'Activate JIT account' }).click();
    await page.getByRole('button', { name: /PostgreSQL/ }).click();
    const username = page.getByLabel('Username');
    expect(await username.inputValue()).toBe(danaAccount);
    expect(await username.getAttribute('readonly')).toBeNull();
    await page.getByLabel('Search groups and roles').fill(target.readers);
    await page.getByRole('checkbox', { name: target.readers }).check();
    expect(await textOf(page.getByTestId('policy-name'))).toBe('db access');
    expect(await page.getByLabel('Duration').inputValue()).toBe('30m');
    await page.getByLabel('Reason').fill('INC-4711 check the orders table');
    await page.getByLabel('Ticket (optional)').fill('INC-4711');
    await shot('activate-wizard');
    await page.getByRole('button', { name: 'Activate' }).click();

    const dialog = page.getByRole('dialog', { name: 'Your JIT account is ready' });
    await dialog.getByText('This is the only time the password is shown.').waitFor();
    await dialog.getByRole('button', { name: 'Reveal password' }).click();
    const password = await dialog.getByLabel('Password').inputValue();
    expect(password.length).toBeGreaterThanOrEqual(16);
    await dialog.getByRole('button', { name: 'Copy password' }).click();
    await dialog.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(password);
    await shot('password-dialog');

    const login = await psql(target, danaAccount, password, 'select item from orders order by id');
    expect(login).toMatchObject({ ok: true, stdout: 'widget\ngadget' });
    await dialog.getByRole('button', { name: 'Done' }).click();

    await heading('Just-in-time accounts');
    const row = accountRow(danaAccount);
    await row.getByText('Active').waitFor();
    await row.getByText(target.readers).waitFor();
    await row.getByText('INC-4711 check the orders table').waitFor();
    const countdown = row.locator('.countdown');
    const first = await textOf(countdown);
    expect(first).toMatch(/^ends in (29|30)m \d\ds$/);
    await expect.poll(() => textOf(countdown), { timeout: 5000 }).not.toBe(first);
    await shot('jit-accounts');
  });

  it('shows the expiry without a reload, then enables the account again from the three-dot menu', async () => {
    await page.evaluate('window.timeboxMarker = 42'); // gone if the page reloads
    server.clock.shift(31 * 60_000);
    await server.tb.scheduler.drain();
    const row = accountRow(danaAccount);
    await row.getByText('Expired').waitFor();
    expect(await page.evaluate('window.timeboxMarker')).toBe(42);
    expect((await psql(target, danaAccount, 'x', 'select 1')).ok).toBe(false);

    // Keyboard only: open the menu, walk it, read the unavailable items, choose "Enable again".
    const menuButton = row.getByRole('button', { name: `Actions for ${danaAccount}` });
    expect(await menuButton.getAttribute('aria-haspopup')).toBe('menu');
    await menuButton.focus();
    await page.keyboard.press('Enter');
    const menu = page.getByRole('menu');
    const items = menu.getByRole('menuitem');
    expect(await items.allTextContents()).toEqual(['Enable again', 'Rotate password — only while the account is enabled', 'Delete']);
    expect(await items.nth(1).getAttribute('aria-disabled')).toBe('true');
    expect(await items.nth(1).getAttribute('title')).toBe('only while the account is enabled');
    await shot('jit-accounts-menu');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Enter');

    const dialog = page.getByRole('dialog', { name: `Enable ${danaAccount} again` });
    await dialog.getByRole('button', { name: 'Enable' }).click();
    expect(await textOf(dialog.getByRole('alert'))).toMatch(/A reason is required/);
    await dialog.getByLabel('Reason').fill('INC-4712 follow-up on orders');
    expect(await dialog.getByLabel('Duration').inputValue()).toBe('30m');
    await dialog.getByLabel('Duration').fill('15m');
    await shot('enable-dialog');
    await dialog.getByRole('button', { name: 'Enable' }).click();

    const pw = page.getByRole('dialog', { name: 'Your JIT account is ready' });
    await pw.getByRole('button', { name: 'Reveal password' }).click();
    const password = await pw.getByLabel('Password').inputValue();
    expect(await psql(target, danaAccount, password, 'select count(*) from orders')).toMatchObject({ ok: true, stdout: '2' });
    await pw.getByRole('button', { name: 'Done' }).click();
    await row.getByText('Active').waitFor();
    await row.getByText('INC-4712 follow-up on orders').waitFor();
    expect(await textOf(row.locator('.countdown'))).toMatch(/^ends in 1[45]m \d\ds$/);

    // "End now" from the menu, with the mouse this time: access is taken away at once.
    await row.getByRole('button', { name: `Actions for ${danaAccount}` }).click();
    await page.getByRole('menuitem', { name: 'End now' }).click();
    const end = page.getByRole('dialog', { name: `End access of ${danaAccount} now` });
    await end.getByLabel('Reason').fill('done with INC-4712');
    await end.getByRole('button', { name: 'End now' }).click();
    await row.getByText('Revoked').waitFor();
    expect((await psql(target, danaAccount, password, 'select 1')).ok).toBe(false);

    // The username is fixed now: the wizard shows it read-only for this target.
    await page.getByRole('link', { name: 'Activate JIT account' }).click();
    await page.getByRole('button', { name: /PostgreSQL/ }).click();
    expect(await page.getByLabel('Username').inputValue()).toBe(danaAccount);
    expect(await page.getByLabel('Username').getAttribute('readonly')).not.toBeNull();
    await page.getByRole('link', { name: 'Cancel' }).click();
    await heading('Just-in-time accounts');
  });

  it('shows bad input clearly where it belongs and creates nothing', async () => {
    const t = await server.admin.post('/api/v1/tenants/default/targets', { name: 'staging-db', kind: 'postgres', config: target.config });
    expect(t.status).toBe(201);
    const stagingId: string = t.body.target.id;
    const p = await server.admin.post('/api/v1/tenants/default/policies', {
      name: 'staging short',
      targetId: stagingId,
      requesterRoles: ['admin', 'requester'],
      maxDurationSeconds: 900,
      defaultDurationSeconds: 600,
    });
    expect(p.status).toBe(201);
    const general = await server.admin.post('/api/v1/tenants/default/policies', {
      name: 'general',
      requesterRoles: ['admin'],
      maxDurationSeconds: 7200,
      defaultDurationSeconds: 3600,
    });
    expect(general.status).toBe(201);
    // Somebody else already holds the name "shared_<hex>" on staging-db: only the server knows.
    const rita = await signIn(server.url, ...(await newRequester()));
    const taken = `shared_${hex}`;
    const ritaGrant = await rita.post('/api/v1/tenants/default/requests', { targetId: stagingId, entitlements: [target.readers], reason: 'INC-5001 staging setup', accountName: taken });
    expect(ritaGrant.status, JSON.stringify(ritaGrant.body)).toBe(201);
    const before = await danaApi.get('/api/v1/tenants/default/grants?mine=true&limit=200');

    await page.goto('/t/default/jit-accounts/activate');
    await page.getByRole('button', { name: /PostgreSQL/ }).click();
    await page.getByLabel('Target').selectOption({ label: 'staging-db' });
    await page.getByLabel('Username').fill(`dana'x`);
    // The kind's own name rules as the server serves them (GET /target-kinds), while typing.
    expect(await textOf(page.locator('#username-error'))).toBe('3 to 63 lowercase letters, digits and underscores, starting with a letter, such as ann_jit.');
    await page.getByLabel('Search groups and roles').fill(target.readers);
    await page.getByRole('checkbox', { name: target.readers }).check();
    expect(await textOf(page.getByTestId('policy-name'))).toBe('staging short');
    await page.getByLabel('Duration').fill('2h');
    await page.getByRole('button', { name: 'Activate' }).click();
    expect(await textOf(page.locator('#reason-error'))).toBe('A reason is required: say why you need this access.');
    expect(await textOf(page.locator('#duration-error'))).toBe('That is longer than policy “staging short” allows: at most 15m.');
    expect(await page.locator('#username').getAttribute('aria-invalid')).toBe('true');
    await shot('activate-bad-input');

    // The pencil: another policy that also covers this request, with a longer maximum.
    await page.getByRole('button', { name: 'Change policy' }).click();
    await page.getByRole('combobox', { name: 'JIT policy' }).selectOption({ label: 'general (default 1h, max 2h)' });
    await page.getByRole('combobox', { name: 'JIT policy' }).press('Enter');
    expect(await textOf(page.getByTestId('policy-name'))).toBe('general');
    expect(await textOf(page.locator('#duration-hint'))).toContain('at most 2h');

    // Fixed on this side; the server still refuses the name and says why, at the field.
    await page.getByLabel('Username').fill(taken);
    await page.getByLabel('Duration').fill('10m');
    await page.getByLabel('Reason').fill('INC-5000 staging check');
    await page.getByRole('button', { name: 'Activate' }).click();
    await page.locator('#username-error').getByText(`the account name "${taken}" is already used by another person on this target`).waitFor();

    const after = await danaApi.get('/api/v1/tenants/default/grants?mine=true&limit=200');
    expect(after.body.items).toHaveLength(before.body.items.length);
    const accounts = await danaApi.get('/api/v1/tenants/default/jit-accounts?mine=true');
    expect(accounts.body.items.map((a: { targetId: string }) => a.targetId)).not.toContain(stagingId);

    // A duplicate policy name: the server's 409 is shown at the name field; nothing is added.
    const policiesBefore = (await danaApi.get('/api/v1/tenants/default/policies')).body.items.length;
    await nav('Policies');
    await page.getByRole('button', { name: 'New policy' }).click();
    await page.getByLabel('Name', { exact: true }).fill('db access');
    await page.getByRole('button', { name: 'Create policy' }).click();
    await page.locator('#policy-name-error').getByText('a policy named "db access" already exists').waitFor();
    expect((await danaApi.get('/api/v1/tenants/default/policies')).body.items).toHaveLength(policiesBefore);
    await page.getByRole('button', { name: 'Cancel' }).click();
  });

  it('shows requests, approvals, the audit log with filters and exports, and settings', async () => {
    await nav('Requests');
    await heading('Requests');
    await page.getByRole('table', { name: 'My requests' }).getByText('INC-4712 follow-up on orders').waitFor();
    await shot('requests');

    await nav('Approvals');
    await page.getByTestId('inbox-empty').getByText('Nothing is waiting for your approval.').waitFor();

    await nav('Audit');
    await server.tb.audit.sealer.sealNow();
    const table = page.getByRole('table', { name: 'Audit events' });
    await table.getByText('policy.created').first().waitFor();
    await page.getByLabel('Person').selectOption({ label: dana.email });
    await page.getByLabel('Action').fill('grant.credential_revealed');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
    expect(await table.locator('tbody td:nth-child(3)').allTextContents()).toEqual(['grant.credential_revealed', 'grant.credential_revealed']);
    await shot('audit');

    const [jsonl] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export JSON lines' }).click()]);
    const lines = (await readFile(await jsonl.path(), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.action)).toEqual(['grant.credential_revealed', 'grant.credential_revealed']);
    expect(lines[0].hash).toMatch(/^[0-9a-f]{64}$/);
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(csv.suggestedFilename()).toBe('audit-default.csv');
    const rows = (await readFile(await csv.path(), 'utf8')).trim().split('\r\n');
    expect(rows[0]).toBe('time,person,action,subject_type,subject_id,subject,reason,details');
    expect(rows.slice(1).every((r) => r.includes(`,${dana.email},grant.credential_revealed,grant,`))).toBe(true);
    expect(rows.slice(1).every((r) => r.includes(`,Access: ${danaAccount} on orders-db (${dana.email}),`))).toBe(true);
    expect(rows).toHaveLength(3);

    await page.getByLabel('Action').fill('Not An Action!');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('#audit-action-error').getByText('an action such as grant.revoked or grant.*').waitFor();

    await nav('Settings');
    await page.getByRole('heading', { name: 'Members' }).waitFor();
    await page.getByRole('table', { name: 'Members' }).getByText(dana.email).waitFor();
    await shot('settings');
  });

  it('sends the person back to sign-in with a message when the session ends, and signs out', async () => {
    await nav('Just-in-time accounts');
    await heading('Just-in-time accounts');
    server.clock.shift(13 * 3600_000); // sessions last 12 hours
    await page.getByRole('status').getByText('Your session has ended. Sign in again to continue.').waitFor();
    await shot('session-ended');

    await page.getByLabel('Email').fill(dana.email);
    await page.getByLabel('Password').fill(dana.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading('Just-in-time accounts'); // back where the session ended
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('status').getByText('You have signed out.').waitFor();
    expect((await page.request.get('/api/v1/me')).status()).toBe(401);
    expect(pageProblems.filter((m) => /Content Security Policy|Refused to/.test(m))).toEqual([]);
    expect(pageProblems.filter((m) => !/Failed to load resource/.test(m))).toEqual([]);
  });

  async function newRequester(): Promise<[string, string]> {
    const email = `rita.${randomBytes(3).toString('hex')}@example.com`;
    return [email, (await addMember(server.url, server.admin, 'default', email, ['requester'])).password];
  }
});
