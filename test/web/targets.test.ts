/**
 * Target forms built from each kind's schema as the server declares it (GET /target-kinds), in a
 * real browser against a real Timebox and a real PostgreSQL target: a PostgreSQL target is added
 * through the generated form and works; a MariaDB target whose server does not answer is refused
 * with the test's findings, saved anyway on the admin's word and listed broken with what failed;
 * it is edited and deleted from the list, and a target with a live grant is not deleted, with
 * the reason shown. Screenshots at 1366×800 and 390×844 go to test-artifacts/.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { preparePgTarget, type PgTarget } from '../support/pg-target.js';
import { addMember } from '../support/http.js';
import { builtSpa, launchChromium, screenshotDir, startWebServer, type WebServer } from './support.js';

const T = '/api/v1/tenants/default';
const hex = randomBytes(3).toString('hex');

/** A local port nothing listens on: a server that is down. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('target forms from the kinds the server declares', () => {
  let server: WebServer;
  let target: PgTarget;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  const shot = async (name: string) => {
    await page.setViewportSize({ width: 1366, height: 800 });
    await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(screenshotDir, `${name}-phone.png`), fullPage: true });
    await page.setViewportSize({ width: 1366, height: 800 });
  };
  const nav = (name: string) => page.getByRole('navigation', { name: /sections$/ }).getByRole('link', { name, exact: true }).click();
  const textOf = async (l: Locator) => (await l.textContent())?.trim() ?? '';
  const names = async () => ((await server.admin.get(`${T}/targets`)).body.items as { name: string }[]).map((t) => t.name);

  beforeAll(async () => {
    const adminUrl = inject('pgAdminUrl');
    const [pgTarget] = await Promise.all([preparePgTarget(adminUrl), mkdir(screenshotDir, { recursive: true })]);
    target = pgTarget;
    server = await startWebServer({ adminUrl, distDir: builtSpa() });
    browser = await launchChromium();
    context = await browser.newContext({ baseURL: server.url, viewport: { width: 1366, height: 800 } });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 4[0-9][0-9]/.test(m.text())) problems.push(m.text());
    });
    await page.goto('/');
    await page.getByLabel('Email').fill(server.adminLogin.email);
    await page.getByLabel('Password').fill(server.adminLogin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Just-in-time accounts' }).waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await target?.drop();
  });

  it('offers every kind the server declares, and adds a working PostgreSQL target through the generated form', async () => {
    await nav('Targets');
    await page.getByRole('button', { name: 'Add target' }).click();
    const declared = ((await server.admin.get('/api/v1/target-kinds')).body.items as { label: string }[]).map((k) => k.label);
    expect(await page.getByLabel('Kind').locator('option').allTextContents()).toEqual(declared);
    expect(declared).toContain('MariaDB / MySQL');

    await page.getByLabel('Kind').selectOption({ label: 'PostgreSQL' });
    await page.getByRole('button', { name: 'Add target' }).click(); // empty: the required fields say so
    expect(await textOf(page.locator('#target-name-error'))).toBe('Give the target a name.');
    expect(await textOf(page.locator('#target-host-error'))).toBe('Enter host.');
    await page.getByLabel('Name', { exact: true }).fill('orders-db');
    await page.getByLabel('Host').fill(target.host);
    await page.getByLabel('Port').fill(String(target.port));
    await page.getByLabel('Database').fill(target.database);
    await page.getByLabel('Service account user').fill(target.service.user);
    await page.getByLabel('Service account password').fill(target.service.password);
    await page.getByRole('button', { name: 'Add target' }).click();
    await page.getByRole('status', { name: 'Connection test of orders-db' }).getByText('✓ Connection works').waitFor();
    const row = page.getByRole('row', { name: /orders-db/ });
    expect(await textOf(row.locator('td').nth(1))).toBe('Working');
  });

  it('refuses a MariaDB target whose server does not answer, with the findings; saved anyway it is listed broken', async () => {
    const port = await closedPort();
    await page.getByRole('button', { name: 'Add target' }).click();
    await page.getByLabel('Kind').selectOption({ label: 'MariaDB / MySQL' });
    await page.getByLabel('Name', { exact: true }).fill('shop-db');
    await page.getByLabel('Host', { exact: true }).fill('127.0.0.1');
    await page.getByLabel('Port').fill(String(port));
    await page.getByLabel('Service account user').fill('timebox_svc');
    await page.getByLabel('Service account password').fill('service-password-1');
    await page.getByLabel('TLS', { exact: true }).selectOption('disable');
    await page.getByRole('button', { name: 'Add target' }).click();
    const findings = page.getByRole('status', { name: 'Connection test of the new settings' });
    await findings.getByText('✗ Connection has problems').waitFor();
    await page.getByText('Not saved: the connection test failed.').waitFor();
    expect(await names()).toEqual(['orders-db']);
    await shot('target-check-failed');

    await page.getByRole('button', { name: 'Save anyway' }).click();
    await page.getByRole('status').getByText('shop-db saved, marked broken: its connection test failed.').waitFor();
    const row = page.getByRole('row', { name: /shop-db/ });
    expect(await textOf(row.locator('td').first())).toBe('MariaDB / MySQL');
    expect(await textOf(row.locator('.badge'))).toBe('Broken');
    expect(await textOf(row.locator('.status-error'))).toMatch(/^Failed: connection\. \(tested /);
    expect(await names()).toEqual(['orders-db', 'shop-db']);
    await shot('targets-broken');
  });

  it('edits a target from the list, secrets left blank keeping theirs, and deletes one; a target with a live grant is not deleted', async () => {
    await page.getByRole('button', { name: 'Edit orders-db' }).click();
    await page.getByRole('heading', { name: 'Edit orders-db' }).waitFor();
    // Stored settings come back, the password does not.
    expect(await page.getByLabel('Host').inputValue()).toBe(target.host);
    expect(await page.getByLabel('Service account password').inputValue()).toBe('');
    await page.getByLabel('Name', { exact: true }).fill('orders');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').getByText('orders saved.').waitFor();
    expect(await names()).toEqual(['orders', 'shop-db']);

    await page.getByRole('button', { name: 'Delete shop-db' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete shop-db?' });
    await dialog.getByRole('button', { name: 'Delete target' }).click();
    await page.getByRole('status').getByText('shop-db deleted. Past grants and the audit trail keep its name.').waitFor();
    expect(await names()).toEqual(['orders']);

    // A live grant on orders: the deletion is refused, and the dialog says why.
    const id = ((await server.admin.get(`${T}/targets`)).body.items as { id: string }[])[0]!.id;
    const dana = await addMember(server.url, server.admin, 'default', `dana.${hex}@example.com`, ['requester'], 'Dana');
    await server.admin.post(`${T}/policies`, { name: 'db', targetId: id, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 1800 });
    const grant = await dana.api.post(`${T}/requests`, { targetId: id, entitlements: [target.readers], durationSeconds: 1800, reason: 'INC-12 orders report' });
    expect(grant.body.state).toBe('active');
    await page.getByRole('button', { name: 'Delete orders' }).click();
    const refused = page.getByRole('dialog', { name: 'Delete orders?' });
    await refused.getByRole('button', { name: 'Delete target' }).click();
    await refused.getByRole('alert').getByText('target "orders" still has 1 grant that is not over (1 active)', { exact: false }).waitFor();
    await refused.getByRole('button', { name: 'Cancel' }).click();
    expect(await names()).toEqual(['orders']);
    await server.admin.post(`${T}/grants/${grant.body.id}/revoke`, { reason: 'report done' });
    expect(problems).toEqual([]);
  });
});
