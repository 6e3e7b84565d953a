/**
 * Own passwords and invitations in a real browser: the first owner signs in with the printed
 * password and must choose their own before anything else (a weak one is refused with the
 * reason); they invite someone from Settings → Members and get the link once; the invitee opens
 * it signed out, chooses their password and signs in; then the owner disables them and their
 * open dashboard is signed out at its next call. Screenshots go to test-artifacts/.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiClient, ownPassword } from '../support/http.js';
import { builtSpa, launchChromium, screenshotDir, startWebServer, type WebServer } from './support.js';

const hex = randomBytes(3).toString('hex');
const ivy = { email: `ivy.${hex}@example.com`, password: ownPassword() };

describe('passwords and invitations in the dashboard', () => {
  let server: WebServer;
  let browser: Browser;
  let owner: BrowserContext;
  let page: Page;
  let ivyContext: BrowserContext;
  let ivyPage: Page;
  let link = '';
  const newPassword = ownPassword();
  const shot = (p: Page, name: string) => p.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    await mkdir(screenshotDir, { recursive: true });
    server = await startWebServer({ adminUrl: inject('pgAdminUrl'), distDir: builtSpa(), firstPasswordChanged: false });
    browser = await launchChromium();
    owner = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 800 } });
    owner.setDefaultTimeout(10_000);
    page = await owner.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('the printed password must be changed at first sign-in, before anything else', async () => {
    await page.goto('/');
    await page.getByLabel('Email').fill(server.adminLogin.email);
    await page.getByLabel('Password').fill(server.adminLogin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Choose your own password' }).waitFor();
    // Nothing else answers meanwhile, whatever the page would ask for.
    expect((await server.admin.get('/api/v1/tenants')).body.error.code).toBe('password_change_required');

    await page.getByLabel('Current password').fill(server.adminLogin.password);
    await page.getByLabel('New password', { exact: true }).fill('password1234');
    await page.getByLabel('New password again').fill('password1234');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('alert').getByText(/too easy to guess/).waitFor();
    await shot(page, 'password-change-required');

    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByLabel('New password again').fill(newPassword);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('heading', { level: 1, name: 'Choose a tenant' }).or(page.getByRole('heading', { level: 1, name: 'Just-in-time accounts' })).waitFor();
    // The API session the test opened with the printed password was ended by the change.
    expect((await server.admin.get('/api/v1/me')).status).toBe(401);
    expect((await apiClient(server.url).post('/api/v1/auth/login', { email: server.adminLogin.email, password: newPassword })).status).toBe(200);
  });

  it('invites from Settings → Members; the link is shown once', async () => {
    await page.goto('/t/default/settings/members');
    await page.getByRole('heading', { name: 'Invite someone' }).waitFor();
    await page.getByLabel('Email').fill(ivy.email);
    await page.getByRole('button', { name: 'Invite' }).click();
    const box = page.locator('#invitation-link');
    await box.waitFor();
    link = (await box.inputValue()).trim();
    expect(link).toMatch(/\/invite\/tbi_[A-Za-z0-9_-]+$/);
    await shot(page, 'members-invitation-link');
  });

  it('lists the invitations not accepted yet; one sent to the wrong address is withdrawn and its link dies', async () => {
    await page.getByRole('row', { name: `Invitation ${ivy.email}` }).waitFor();
    const wrong = `wrong.${hex}@example.com`;
    await page.getByLabel('Email').fill(wrong);
    await page.getByRole('button', { name: 'Invite' }).click();
    const row = page.getByRole('row', { name: `Invitation ${wrong}` });
    await row.waitFor();
    const wrongLink = (await page.locator('#invitation-link').inputValue()).trim();
    await row.getByRole('button', { name: 'Withdraw' }).click();
    await page.getByText(`The invitation of ${wrong} is withdrawn: its link no longer works.`).waitFor();
    await row.waitFor({ state: 'detached' });
    const token = wrongLink.split('/invite/')[1];
    expect((await apiClient(server.url).post('/api/v1/invitations/accept', { token, password: ownPassword() })).status).toBe(409);
    // Ivy's stays.
    await page.getByRole('row', { name: `Invitation ${ivy.email}` }).waitFor();
  });

  it('the invitee opens the link signed out, chooses a password and signs in', async () => {
    ivyContext = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 800 } });
    ivyContext.setDefaultTimeout(10_000);
    ivyPage = await ivyContext.newPage();
    await ivyPage.goto(link);
    await ivyPage.getByRole('heading', { name: 'Join Default' }).waitFor();
    await ivyPage.getByLabel('Your name').fill('Ivy');
    await ivyPage.getByLabel('Password', { exact: true }).fill(ivy.email);
    await ivyPage.getByLabel('Password again').fill(ivy.email);
    await ivyPage.getByRole('button', { name: 'Accept and set password' }).click();
    await ivyPage.getByRole('alert').getByText(/email/).waitFor();
    await ivyPage.getByLabel('Password', { exact: true }).fill(ivy.password);
    await ivyPage.getByLabel('Password again').fill(ivy.password);
    await shot(ivyPage, 'invitation-accept');
    await ivyPage.getByRole('button', { name: 'Accept and set password' }).click();
    await ivyPage.getByText('Your password is set. Sign in with it now.').waitFor();
    await ivyPage.getByRole('button', { name: 'Sign in' }).click();
    await ivyPage.getByLabel('Email').fill(ivy.email);
    await ivyPage.getByLabel('Password').fill(ivy.password);
    await ivyPage.getByRole('button', { name: 'Sign in' }).click();
    await ivyPage.getByRole('heading', { level: 1, name: 'Just-in-time accounts' }).waitFor();

    // The link worked once.
    await ivyPage.goto(link);
    await ivyPage.getByRole('alert').getByText(/already used/).waitFor();
    await ivyPage.goto('/');
    await ivyPage.getByRole('heading', { level: 1, name: 'Just-in-time accounts' }).waitFor();
  });

  it('disabling the invitee signs their open dashboard out at its next call', async () => {
    await page.goto('/t/default/settings/members');
    const row = page.getByRole('row', { name: `Member ${ivy.email}` });
    await row.waitFor();
    await page.getByLabel('Reason for disabling or ending sessions').fill('left the team');
    await row.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('status').getByText(`${ivy.email} is disabled here`).waitFor();
    await row.getByRole('button', { name: 'Enable' }).waitFor();
    await shot(page, 'members-disabled');

    await ivyPage.reload();
    await ivyPage.getByRole('heading', { name: 'Sign in to Timebox' }).waitFor();
  });
});
