/**
 * The approver's loop without e-mail, the connect line, names in the audit list, members, and a
 * phone: in a real browser (Debian's chromium through playwright-core) against a real Timebox and
 * a real PostgreSQL target, each screen at 1366 × 800 and at 390 × 844. Requests made by other
 * people through the API raise the approver's sidebar count without a reload; the requester's
 * page says when their request is decided; the one-time credential says where and how to connect
 * and when the access ends, with its time zone; the audit list names people, targets and
 * accounts; members are invited, given other roles and removed; with the server gone the page
 * says so and stops presenting countdowns as certain. Screenshots go to test-artifacts/.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { preparePgTarget, psql, type PgTarget } from '../support/pg-target.js';
import { addMember, type ApiClient } from '../support/http.js';
import { builtSpa, launchChromium, screenshotDir, startWebServer, type WebServer } from './support.js';

const T = '/api/v1/tenants/default';
const hex = randomBytes(3).toString('hex');
type Person = { email: string; password: string; id: string; api: ApiClient };
const desktop = { width: 1366, height: 800 };
const phone = { width: 390, height: 844 };

describe("the approver's loop, the connect line, audit names and members, on a laptop and a phone", () => {
  let server: WebServer | undefined;
  let target: PgTarget;
  let targetId = '';
  let browser: Browser;
  let rob: Person; // requester
  let sue: Person; // requester
  let ann: Person; // approver
  let R: Page; // rob's browser (Berlin time)
  let A: Page; // ann's browser
  let O: Page; // the owner's browser
  const robAccount = `rob_${hex}_jit`;
  const problems: string[] = [];
  /** Set once the test stops the server: what the pages log after that is expected. */
  let serverGone = false;

  const api = () => server!;
  /** The same screen at both sizes; the page is left at the laptop size. */
  async function shots(page: Page, name: string, fullPage = false) {
    await page.setViewportSize(desktop);
    await page.screenshot({ path: join(screenshotDir, `${name}-1366.png`), fullPage });
    await page.setViewportSize(phone);
    await page.screenshot({ path: join(screenshotDir, `${name}-390.png`), fullPage });
    await page.setViewportSize(desktop);
  }
  const nav = (page: Page, name: string) => page.getByRole('navigation', { name: /sections$/ }).getByRole('link', { name, exact: true }).click();
  const heading = (page: Page, name: string) => page.getByRole('heading', { level: 1, name }).waitFor();
  const textOf = async (l: ReturnType<Page['locator']>) => (await l.textContent())?.trim() ?? '';
  const count = (page: Page) => page.getByTestId('approvals-count');
  /** Waits until the sidebar says `n` waiting. */
  const counted = (page: Page, n: number) => count(page).filter({ hasText: new RegExp(`^${n} waiting for you$`) }).waitFor({ state: 'attached' });
  /** Nothing sticks out sideways at phone width: no horizontal scrolling of the page itself. */
  const fitsPhone = async (page: Page) => expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(phone.width);
  /** Whether the element lies entirely inside the 390 px wide viewport. */
  async function inView(page: Page, locator: ReturnType<Page['locator']>) {
    const box = await locator.boundingBox();
    return !!box && box.x >= 0 && box.x + box.width <= phone.width && box.y >= 0 && box.y + box.height <= phone.height;
  }

  async function person(name: string, roles: string[]): Promise<Person> {
    const email = `${name}.${hex}@example.com`;
    const m = await addMember(api().url, api().admin, 'default', email, roles);
    return { email, password: m.password, id: m.id, api: m.api };
  }

  async function openAs(email: string, password: string, timezoneId = 'UTC'): Promise<Page> {
    const context = await browser.newContext({ baseURL: api().url, viewport: desktop, timezoneId, locale: 'en-GB' });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !serverGone && !/status of 40[0-9]/.test(m.text())) problems.push(m.text());
    });
    await page.goto('/');
    await page.getByLabel('Email').fill(email).catch(async (err) => {
      throw new Error(`${String(err)}\n${JSON.stringify(problems)}\n${await page.content()}`);
    });
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading(page, 'Just-in-time accounts');
    return page;
  }

  const ask = (who: Person, reason: string, accountName?: string) =>
    who.api.post(`${T}/requests`, { targetId, entitlements: [target.readers], durationSeconds: 1800, reason, ...(accountName ? { accountName } : {}) });

  beforeAll(async () => {
    const adminUrl = inject('pgAdminUrl');
    const [pgTarget] = await Promise.all([preparePgTarget(adminUrl), mkdir(screenshotDir, { recursive: true })]);
    target = pgTarget;
    server = await startWebServer({ adminUrl, distDir: builtSpa(), pollMs: 200 });
    targetId = (await server.admin.post(`${T}/targets`, { name: 'orders-db', kind: 'postgres', config: target.config })).body.target.id;
    [rob, sue, ann] = [await person('rob', ['requester']), await person('sue', ['requester']), await person('ann', ['approver'])];
    const policy = await server.admin.post(`${T}/policies`, {
      name: 'orders read',
      targetId,
      entitlements: [target.readers],
      requesterRoles: ['requester'],
      maxDurationSeconds: 3600,
      defaultDurationSeconds: 1800,
      rules: { approvalLevels: [{ name: 'db owners', approverIds: [ann.id] }] },
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);
    // The owner helps themselves (for the countdown at the end); nobody else fits this policy.
    const own = await server.admin.post(`${T}/policies`, {
      name: 'owner on call', targetId, entitlements: [target.readers], requesterRoles: ['owner'], maxDurationSeconds: 3600, defaultDurationSeconds: 1800,
    });
    expect(own.status, JSON.stringify(own.body)).toBe(201);
    browser = await launchChromium();
    [R, A, O] = [
      await openAs(rob.email, rob.password, 'Europe/Berlin'),
      await openAs(ann.email, ann.password),
      await openAs(api().adminLogin.email, api().adminLogin.password),
    ];
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await target?.drop();
  });

  it("raises the approver's sidebar count as requests arrive from other people, without a reload", async () => {
    await A.evaluate('window.timeboxMarker = 7');
    expect(await count(A).count()).toBe(0);
    await R.locator('[data-watching="0"]').waitFor({ state: 'attached' });

    const first = await ask(rob, 'INC-5101 check the failed orders', robAccount);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body.state).toBe('requested');
    await counted(A, 1);
    await shots(A, 'approvals-count-one');

    const second = await ask(sue, 'INC-5102 reconcile the invoices');
    expect(second.status, JSON.stringify(second.body)).toBe(201);
    await counted(A, 2);
    expect(await A.evaluate('window.timeboxMarker')).toBe(7); // no reload
    await shots(A, 'approvals-count-two');

    // On a phone the sections are behind "Menu"; the count is there too. Status and sign-out stay in view.
    await A.setViewportSize(phone);
    const sections = A.getByRole('navigation', { name: /sections$/ });
    expect(await sections.isVisible()).toBe(false);
    for (const l of [A.getByRole('button', { name: 'Menu' }), A.getByRole('status').filter({ hasText: 'Live' }), A.getByRole('button', { name: 'Sign out' })]) {
      expect(await inView(A, l)).toBe(true);
    }
    await A.getByRole('button', { name: 'Menu' }).click();
    await counted(A, 2);
    await A.screenshot({ path: join(screenshotDir, 'phone-menu-open-390.png') });
    await fitsPhone(A);
    await A.getByRole('button', { name: 'Menu' }).click();
    await A.setViewportSize(desktop);
  });

  it('lets the approver decide on a phone, and tells the requester on whatever page they are', async () => {
    await R.locator('[data-watching="1"]').waitFor({ state: 'attached' });
    await A.setViewportSize(phone);
    await A.getByRole('button', { name: 'Menu' }).click();
    await nav(A, 'Approvals');
    await heading(A, 'Approvals');
    expect(await A.getByRole('navigation', { name: /sections$/ }).isVisible()).toBe(false); // the menu folds after choosing
    const robCard = A.getByRole('article').filter({ hasText: rob.email });
    await robCard.getByRole('button', { name: 'Approve' }).waitFor();
    await fitsPhone(A);
    expect(await inView(A, robCard.getByRole('button', { name: 'Approve' }))).toBe(true);
    expect(await inView(A, robCard.getByRole('button', { name: 'Deny…' }))).toBe(true);
    await A.screenshot({ path: join(screenshotDir, 'approvals-390.png'), fullPage: true });
    await A.setViewportSize(desktop);
    await A.screenshot({ path: join(screenshotDir, 'approvals-1366.png'), fullPage: true });
    await A.setViewportSize(phone);

    await robCard.getByRole('button', { name: 'Approve' }).click();
    const dialog = A.getByRole('dialog', { name: new RegExp(`^Approve: ${rob.email}`) });
    await dialog.getByLabel('Comment (optional)').fill('ok for INC-5101');
    await A.screenshot({ path: join(screenshotDir, 'approve-dialog-390.png') });
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await A.getByRole('status').getByText(`Approved: ${rob.email} has access to orders-db`).waitFor();
    await counted(A, 1);

    const sueCard = A.getByRole('article').filter({ hasText: sue.email });
    await sueCard.getByRole('button', { name: 'Deny…' }).click();
    const deny = A.getByRole('dialog', { name: new RegExp(`^Deny: ${sue.email}`) });
    await deny.getByLabel('Reason').fill('use the read replica instead');
    await deny.getByRole('button', { name: 'Deny' }).click();
    await A.getByTestId('inbox-empty').waitFor();
    await count(A).waitFor({ state: 'detached' });
    await A.setViewportSize(desktop);

    // Rob is on his accounts page: a notice says it was approved, until when (Berlin time).
    const notice = R.getByTestId('decision-notice');
    await notice.getByText(`Your request for ${target.readers} on orders-db was approved`).waitFor();
    expect(await textOf(notice)).toMatch(/access is on until .* \(Europe\/Berlin\)\./);
    await R.locator(`tr[data-account="${robAccount}"]`).getByText('Active').waitFor();
    await shots(R, 'decision-notice');
  });

  it('shows the one-time password with how to connect: host, port, database, a command to copy, and the end with its time zone', async () => {
    const row = R.locator(`tr[data-account="${robAccount}"]`);
    await row.getByRole('button', { name: `Actions for ${robAccount}` }).click();
    await R.getByRole('menuitem', { name: 'Show password' }).click();
    const dialog = R.getByRole('dialog', { name: 'Your JIT account is ready' });
    await dialog.getByRole('button', { name: 'Reveal password' }).click();
    const password = await dialog.getByLabel('Password').inputValue();
    const connect = dialog.getByTestId('credential-connect');
    await connect.waitFor();
    const facts = await connect.locator('dt, dd').allTextContents();
    expect(facts).toEqual(['Host', target.host, 'Port', String(target.port), 'Database', target.database]);
    expect(await connect.getByRole('textbox', { name: 'Command' }).inputValue()).toBe(`psql "host=${target.host} port=${target.port} user=${robAccount} dbname=${target.database}"`);
    // The end, with its time zone, once (above the password, where it was before the reveal).
    expect(await textOf(dialog.getByTestId('credential-ends'))).toMatch(/^\d{1,2} \w{3} \d{4}, \d{2}:\d{2} (CES?T|GMT\+[12]) \(Europe\/Berlin\)$/);
    // What the dialog says works: those host, port, database, user and password reach the data.
    expect((await psql(target, robAccount, password, 'select count(*) from orders')).stdout).toBe('2');
    await shots(R, 'credential-dialog-connect');
    await R.setViewportSize(phone);
    await fitsPhone(R);
    expect(await inView(R, dialog.getByRole('button', { name: 'Done' }))).toBe(true);
    await R.setViewportSize(desktop);
    await dialog.getByRole('button', { name: 'Done' }).click();
  });

  it('names people, targets and accounts in the audit list, not ids', async () => {
    await nav(O, 'Audit');
    await heading(O, 'Audit');
    const table = O.getByRole('table', { name: 'Audit events' });
    const approved = table.getByRole('row').filter({ has: O.getByText('approval.approved', { exact: true }) }).first();
    await approved.waitFor();
    const cells = await approved.getByRole('cell').allTextContents();
    expect(cells[1]).toBe(ann.email);
    expect(cells[3]).toBe(`Access: ${robAccount} on orders-db (${rob.email})`);
    const all = await table.textContent();
    expect(all).not.toMatch(/operator:|grant [0-9a-f]{8}/);
    expect(all).toContain(`Target: orders-db`);
    await shots(O, 'audit-names', true);
  });

  it('manages members: invite gives a link, roles change, a member is removed', async () => {
    await O.goto('/t/default/settings/members');
    await O.getByRole('heading', { name: 'Invite someone' }).waitFor();
    const zed = `zed.${hex}@example.com`;
    await O.getByLabel('Email').fill(zed);
    await O.getByRole('button', { name: 'Invite', exact: true }).click();
    expect(await O.locator('#invitation-link').inputValue()).toMatch(/\/invite\/tbi_/);

    const members = O.getByRole('table', { name: 'Members' });
    const robRow = members.getByRole('row', { name: `Member ${rob.email}` });
    await robRow.getByRole('button', { name: 'Change roles' }).click();
    const roles = O.getByRole('dialog', { name: `Roles of ${rob.email}` });
    await roles.getByRole('checkbox', { name: /^auditor/ }).check();
    await roles.getByRole('button', { name: 'Save roles' }).click();
    await O.getByRole('status').getByText(new RegExp(`^${rob.email.replace(/\./g, '\\.')} now has the roles (requester, auditor|auditor, requester)\\.$`)).waitFor();
    await robRow.getByRole('cell', { name: /auditor/ }).waitFor();

    const sueRow = members.getByRole('row', { name: `Member ${sue.email}` });
    await sueRow.getByRole('button', { name: 'Remove' }).click();
    const remove = O.getByRole('dialog', { name: `Remove ${sue.email}` });
    await remove.getByRole('button', { name: 'Remove member' }).click();
    await O.getByRole('status').getByText(`${sue.email} is no longer a member.`).waitFor();
    await sueRow.waitFor({ state: 'detached' });
    const listed = (await api().admin.get(`${T}/members`)).body.items as { operator: { email: string }; roles: string[] }[];
    expect(listed.find((m) => m.operator.email === rob.email)?.roles.sort()).toEqual(['auditor', 'requester']);
    expect(listed.some((m) => m.operator.email === sue.email)).toBe(false);
    await shots(O, 'members', true);
    await O.setViewportSize(phone);
    await fitsPhone(O);
    await O.setViewportSize(desktop);
  });

  it('fits every page on a phone: nothing sticks out sideways', async () => {
    await O.setViewportSize(phone);
    const wide: string[] = [];
    for (const path of ['jit-accounts', 'jit-accounts/activate', 'requests', 'approvals', 'reviews', 'targets', 'agents', 'policies', 'audit', 'settings', 'settings/security', 'settings/members', 'settings/groups', 'settings/notifications', 'settings/jit-accounts', 'settings/sso']) {
      await O.goto(`/t/default/${path}`);
      await O.getByRole('heading', { level: 1 }).waitFor();
      await O.locator('.loading').first().waitFor({ state: 'detached' });
      const width = Number(await O.evaluate('document.documentElement.scrollWidth'));
      if (width > phone.width) {
        wide.push(`${path}: ${width}px`);
        await O.screenshot({ path: join(screenshotDir, `too-wide-${path.replace(/\//g, '-')}-390.png`), fullPage: true });
      }
    }
    await O.setViewportSize(desktop);
    expect(wide).toEqual([]);
  });

  it('says plainly when the server cannot be reached, and stops presenting countdowns as certain', async () => {
    // The owner's own grant, with a countdown on their page, and then the server goes away.
    const ownAccount = `own_${hex}_jit`;
    const own = await api().admin.post(`${T}/requests`, { targetId, entitlements: [target.readers], durationSeconds: 1800, reason: 'INC-5103 look at the queue', accountName: ownAccount });
    expect(own.status, JSON.stringify(own.body)).toBe(201);
    await nav(O, 'Just-in-time accounts');
    const countdown = O.locator(`tr[data-account="${ownAccount}"] .countdown`);
    await countdown.filter({ hasText: /^ends in / }).waitFor();
    serverGone = true;
    await server!.close();
    server = undefined;
    await O.getByTestId('connection-banner').getByText('The Timebox server cannot be reached.').waitFor();
    expect(await textOf(countdown)).toMatch(/^should end in \d+m \d{2}s \(unconfirmed\)$/);
    await shots(O, 'server-unreachable');
  });

  it('raised no errors in the pages', () => {
    expect(problems).toEqual([]);
  });
});
