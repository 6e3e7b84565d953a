/**
 * Single sign-on in real Chromium against a real OpenID provider (oidc-provider on a loopback
 * port, its own login and consent pages): an owner sets SSO up in the settings form; people sign
 * in with "Continue with SSO"; IdP groups give tenant roles and operator groups, re-read at every
 * sign-in; someone with no mapped group is refused and no operator is created; with SSO required,
 * password sign-in is refused except for a break-glass owner with an authenticator code.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'otplib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestProvider, type TestProvider } from '../harness/oidc-provider.js';
import { signInFootprint } from '../support/sso.js';
import { createMember } from '../support/test-server.js';
import { builtSpa, launchChromium, screenshotDir, startWebServer, type WebServer } from './support.js';

describe('single sign-on in the dashboard', () => {
  let server: WebServer;
  let idp: TestProvider;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  const db = () => server.tb.store.db;
  const shot = (page: Page, name: string) => page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true });

  async function freshPage(): Promise<Page> {
    const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(15_000);
    // The provider's pages import a web font; this machine has no internet.
    await context.route(/fonts\.googleapis\.com/, (r) => r.abort());
    contexts.push(context);
    return context.newPage();
  }

  /** The provider's own login and consent pages, as a person fills them. */
  async function loginAtProvider(page: Page, login: string) {
    await page.waitForURL((u) => u.origin === idp.issuer);
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('any password: the test provider checks none');
    await shot(page, 'sso-provider-login');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    const consent = page.getByRole('button', { name: 'Continue' });
    await consent.waitFor();
    await consent.click();
  }

  async function startSso(page: Page, screenshot?: string) {
    await page.goto('/');
    await page.getByLabel('Tenant').fill('default');
    if (screenshot) await shot(page, screenshot);
    await page.getByRole('button', { name: 'Continue with SSO' }).click();
  }

  const rolesOf = async (email: string) => {
    const row = await db()
      .selectFrom('memberships as m')
      .innerJoin('operators as o', 'o.id', 'm.operator_id')
      .innerJoin('tenants as t', 't.id', 'm.tenant_id')
      .select('m.roles')
      .where('o.email', '=', email)
      .where('t.slug', '=', 'default')
      .executeTakeFirst();
    return row?.roles ?? null;
  };
  const operatorGroupsOf = async (email: string) =>
    (
      await db()
        .selectFrom('operator_group_members as gm')
        .innerJoin('operator_groups as g', 'g.id', 'gm.group_id')
        .innerJoin('operators as o', 'o.id', 'gm.operator_id')
        .select('g.name')
        .where('o.email', '=', email)
        .execute()
    ).map((r) => r.name);

  beforeAll(async () => {
    const adminUrl = inject('pgAdminUrl');
    await mkdir(screenshotDir, { recursive: true });
    server = await startWebServer({ adminUrl, distDir: builtSpa() });
    idp = await startTestProvider({ redirectUris: [`${server.url}/api/v1/auth/sso/callback`] });
    idp.setAccount('alice', { email: 'alice@example.test', emailVerified: true, name: 'Alice Approver', groups: ['tb-approvers', 'tb-requesters'] });
    idp.setAccount('bob', { email: 'bob@example.test', emailVerified: true, name: 'Bob Marketing', groups: ['marketing'] });
    const g = await server.admin.post('/api/v1/tenants/default/groups', { name: 'db-approvers', memberIds: [] });
    expect(g.status).toBe(201);
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await idp?.close();
    await server?.close();
  });

  it('is set up by an owner in the settings form', async () => {
    const page = await freshPage();
    await page.goto('/');
    await page.getByLabel('Email').fill(server.adminLogin.email);
    await page.getByLabel('Password').fill(server.adminLogin.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${server.url}/t/default/**`);
    await page.goto('/t/default/settings/sso');
    await page.getByRole('heading', { name: 'Single sign-on (OpenID Connect)' }).waitFor();
    expect(await page.getByTestId('sso-redirect-uri').textContent()).toBe(`${server.url}/api/v1/auth/sso/callback`);
    await page.getByLabel('Issuer URL').fill(idp.issuer);
    await page.getByLabel('Client ID').fill(idp.clientId);
    await page.getByLabel('Client secret').fill(idp.clientSecret);
    await page.getByLabel('IdP groups → roles').fill('tb-approvers = approver, requester\ntb-requesters = requester');
    await page.getByLabel('IdP groups → operator groups').fill('tb-approvers = db-approvers');
    await page.getByRole('button', { name: 'Save single sign-on' }).click();
    await page.getByText('Single sign-on saved.').waitFor();
    expect(await page.getByLabel('Client secret').inputValue()).toBe('');
    expect(await page.getByLabel('Client secret').getAttribute('placeholder')).toBe('stored; type to replace');
    await shot(page, 'sso-settings');
    const saved = await server.admin.get('/api/v1/tenants/default/sso');
    expect(saved.body).toMatchObject({ issuer: idp.issuer, clientId: idp.clientId, clientSecretSet: true });
    expect(JSON.stringify(saved.body)).not.toContain(idp.clientSecret);
  });

  let alicePage: Page;

  it('signs a person in through the provider, with the roles and operator groups their IdP groups map to', async () => {
    alicePage = await freshPage();
    await startSso(alicePage, 'sso-sign-in-page');
    await loginAtProvider(alicePage, 'alice');
    // Back in the dashboard, signed in: the only tenant opens.
    await alicePage.waitForURL(`${server.url}/t/default/**`);
    await alicePage.locator('.who').filter({ hasText: 'alice@example.test' }).waitFor();
    await shot(alicePage, 'sso-signed-in');
    expect((await rolesOf('alice@example.test'))?.sort()).toEqual(['approver', 'requester']);
    expect(await operatorGroupsOf('alice@example.test')).toEqual(['db-approvers']);
    const op = await db().selectFrom('operators').select(['password_hash', 'display_name']).where('email', '=', 'alice@example.test').executeTakeFirstOrThrow();
    expect(op).toEqual({ password_hash: null, display_name: 'Alice Approver' });
  });

  it('takes the role away at the next sign-in once the group is removed at the provider', async () => {
    idp.setAccount('alice', { email: 'alice@example.test', emailVerified: true, name: 'Alice Approver', groups: ['tb-requesters'] });
    await alicePage.getByRole('button', { name: 'Sign out' }).click();
    await alicePage.getByRole('heading', { name: 'Sign in to Timebox' }).waitFor();
    await startSso(alicePage);
    // The provider remembers her: no login page this time.
    await alicePage.waitForURL(`${server.url}/t/default/**`);
    expect(await rolesOf('alice@example.test')).toEqual(['requester']);
    expect(await operatorGroupsOf('alice@example.test')).toEqual([]);
    await shot(alicePage, 'sso-role-removed');
  });

  it('refuses a person whose groups map to no role, and creates no operator', async () => {
    const before = await signInFootprint(db());
    const page = await freshPage();
    await startSso(page);
    await loginAtProvider(page, 'bob');
    await page.getByRole('heading', { name: 'Sign-in refused' }).waitFor();
    expect(await page.locator('#message').textContent()).toMatch(/bob@example\.test is in none of the identity provider groups that give a role/);
    await shot(page, 'sso-refused-no-role');
    expect(await signInFootprint(db())).toEqual(before);
    expect(await db().selectFrom('operators').select('id').where('email', '=', 'bob@example.test').executeTakeFirst()).toBeUndefined();
  });

  it('with SSO required, refuses password sign-in, except a break-glass owner with an authenticator code', async () => {
    const carol = await createMember(server.tb, 'default', 'carol@example.test', ['requester']);
    // The break-glass owner enrols an authenticator app first (the server refuses them otherwise).
    const start = await server.admin.post('/api/v1/me/mfa/totp');
    const epoch = () => Math.floor(server.clock.now().getTime() / 1000);
    expect((await server.admin.post('/api/v1/me/mfa/totp/confirm', { code: await generate({ secret: start.body.secret, epoch: epoch() - 30 }) })).status).toBe(200);
    const current = (await server.admin.get('/api/v1/tenants/default/sso')).body;
    const saved = await server.admin.call('PUT', '/api/v1/tenants/default/sso', {
      issuer: current.issuer,
      clientId: current.clientId,
      scopes: current.scopes,
      roleMappings: current.roleMappings,
      groupMappings: current.groupMappings,
      requireSso: true,
      breakGlassEmails: [server.adminLogin.email],
    });
    expect(saved.status).toBe(200);
    // Requiring SSO ends the password sessions members already had; the break-glass owner's stays.
    expect((await carol.api.get('/api/v1/me')).status).toBe(401);
    expect((await server.admin.get('/api/v1/me')).status).toBe(200);
    const configured = await db().selectFrom('audit_events').select('after').where('action', '=', 'sso.updated').orderBy('seq', 'desc').executeTakeFirstOrThrow();
    expect((configured.after as { endedPasswordSessions: number }).endedPasswordSessions).toBeGreaterThanOrEqual(1);

    const carolSessionsOf = () =>
      db()
        .selectFrom('api_tokens as t')
        .innerJoin('operators as o', 'o.id', 't.operator_id')
        .select('t.id')
        .where('o.email', '=', 'carol@example.test')
        .execute();
    const sessionsBefore = await carolSessionsOf();
    const page = await freshPage();
    await page.goto('/');
    await page.getByLabel('Email').fill('carol@example.test');
    await page.getByLabel('Password').fill(carol.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'requires single sign-on' }).waitFor();
    await shot(page, 'sso-required-password-refused');
    // No session was made by the refused sign-in.
    expect(await carolSessionsOf()).toEqual(sessionsBefore);

    await page.getByLabel('Email').fill(server.adminLogin.email);
    await page.getByLabel('Password').fill(server.adminLogin.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByLabel('Authenticator code').fill(await generate({ secret: start.body.secret, epoch: epoch() }));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Choose a tenant' }).or(page.getByRole('navigation', { name: /sections$/ })).first().waitFor();
    await shot(page, 'sso-break-glass-signed-in');
    const audit = await db().selectFrom('audit_events').select('action').where('action', '=', 'auth.break_glass_login').execute();
    expect(audit.length).toBe(1);
  });
});
