/**
 * The dashboard's gateway settings in Chromium: the policy form's "SSH gateway" switches save
 * `rules.gateway` (a new policy version), "Gateway only" without a target is refused with the
 * server's sentence; Settings → Recordings shows and sets the tenant's retention, refusing a
 * number out of bounds before anything is sent.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { builtSpa, launchChromium, screenshotDir, startWebServer, type WebServer } from './support.js';

const T = '/api/v1/tenants/default';

describe('gateway settings in the dashboard', () => {
  let server: WebServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  const nav = (name: string) => page.getByRole('navigation', { name: /sections$/ }).getByRole('link', { name, exact: true }).click();

  beforeAll(async () => {
    const adminUrl = inject('pgAdminUrl');
    await mkdir(screenshotDir, { recursive: true });
    server = await startWebServer({ adminUrl, distDir: builtSpa() });
    const created = await server.admin.post(`${T}/policies`, { name: 'ops', requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
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
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('the policy form saves what the gateway allows; gateway only without a target is refused', async () => {
    await nav('Policies');
    await page.getByRole('button', { name: 'Edit policy ops' }).click();
    await page.getByLabel('Allow SFTP').check();
    await page.getByLabel('Record keystrokes').check();
    await page.screenshot({ path: join(screenshotDir, 'policy-gateway-switches.png'), fullPage: true });
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Policy “ops” saved.', { exact: false }).waitFor();
    const saved = ((await server.admin.get(`${T}/policies`)).body.items as Array<Record<string, any>>).find((p) => p.name === 'ops')!;
    expect(saved.rules.gateway).toEqual({ only: false, recordInput: true, allowPortForwarding: false, allowSftp: true });

    await page.getByRole('button', { name: 'Edit policy ops' }).click();
    expect(await page.getByLabel('Allow SFTP').isChecked()).toBe(true);
    await page.getByLabel('Gateway only').check();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('alert').getByText(/gateway only.*needs the policy to name its target/).waitFor();
    const after = ((await server.admin.get(`${T}/policies`)).body.items as Array<Record<string, any>>).find((p) => p.name === 'ops')!;
    expect(after.id).toBe(saved.id);
    expect(after.rules.gateway.only).toBe(false);
    await page.getByRole('button', { name: 'Cancel' }).click();
  });

  it('Settings → Recordings shows and sets how long recordings are kept', async () => {
    await nav('Settings');
    await page.getByRole('navigation', { name: 'Settings pages' }).getByRole('link', { name: 'Recordings' }).click();
    const days = page.getByLabel('Keep recordings (days)');
    expect(await days.inputValue()).toBe('365');
    await days.fill('0');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Enter a number of days from 1 to 3650.').waitFor();
    expect((await server.admin.get(`${T}/gateway-settings`)).body.recordingRetentionDays).toBe(365);
    await days.fill('90');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('Saved: recordings are kept 90 days after their session ends.').waitFor();
    expect((await server.admin.get(`${T}/gateway-settings`)).body.recordingRetentionDays).toBe(90);
    await page.screenshot({ path: join(screenshotDir, 'settings-recordings.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
