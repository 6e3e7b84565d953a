/**
 * The fleet, reviews and target pages in a real browser (Debian's chromium through
 * playwright-core) against a real Timebox and PostgreSQL store, with agents enrolled by the agent's
 * own enrolment code: an agent shows with its health and turns stale when silent; a new agent's
 * token is shown once with the commands to run; a host target is created from the fleet; a revoked
 * agent shows revoked and is refused. Break-glass access by one admin is reviewed by another (the
 * first may not) and leaves the list with its alert. The target form creates an SSH certificate
 * target and places the server's objections under the right fields, saving nothing. A second tab
 * is signed in and can act; an ended session sends the tab back to the sign-in page.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { enrollAgent } from '../../src/agent/identity.js';
import type { AgentClient } from '../../src/agent/http-client.js';
import { agentClientFrom } from '../e2e/agent-support.js';
import { addMember } from '../support/http.js';
import { builtSpa, launchChromium, screenshotDir, startWebServer, type WebServer } from './support.js';

const T = '/api/v1/tenants/default';
const hex = randomBytes(3).toString('hex');
const dana = { email: `dana.${hex}@example.com`, password: '' };

describe('fleet, reviews and every target kind in the dashboard', () => {
  let server: WebServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const stateDirs: string[] = [];
  let web01: AgentClient;
  let db02: AgentClient;
  let emergencyTargetId = '';
  const problems: string[] = [];

  const shot = (p: Page, name: string, fullPage = false) => p.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage });
  const nav = (p: Page, name: string) => p.getByRole('navigation', { name: /sections$/ }).getByRole('link', { name, exact: true }).click();
  const heading = (p: Page, name: string) => p.getByRole('heading', { level: 1, name }).waitFor();
  const textOf = async (l: Locator) => (await l.textContent())?.trim() ?? '';
  const agentRow = (p: Page, id: string) => p.locator(`tr[data-agent="${id}"]`);

  /** Enrols a host with `token` the way `timebox agent enroll` does, and returns its signed client. */
  async function enrol(token: string, hostname: string): Promise<AgentClient> {
    const dir = await mkdtemp(join(tmpdir(), 'tb-web-agent-'));
    stateDirs.push(dir);
    await enrollAgent({ server: server.url, token, stateDir: dir, hostname });
    return agentClientFrom(dir);
  }

  async function openAs(email: string, password: string): Promise<{ context: BrowserContext; page: Page }> {
    const ctx = await browser.newContext({ baseURL: server.url, viewport: { width: 1366, height: 768 } });
    ctx.setDefaultTimeout(10_000);
    const p = await ctx.newPage();
    p.on('pageerror', (e) => problems.push(e.message));
    p.on('console', (m) => {
      if (m.type() === 'error' && !/status of 40[0-9]/.test(m.text())) problems.push(m.text());
    });
    await p.goto('/');
    await p.getByLabel('Email').fill(email);
    await p.getByLabel('Password').fill(password);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await heading(p, 'Just-in-time accounts');
    return { context: ctx, page: p };
  }

  beforeAll(async () => {
    const adminUrl = inject('pgAdminUrl');
    await mkdir(screenshotDir, { recursive: true });
    server = await startWebServer({ adminUrl, distDir: builtSpa() });
    const added = await addMember(server.url, server.admin, 'default', dana.email, ['admin'], 'Dana');
    dana.password = added.password;

    // A credential target and a policy allowing the owner emergency access to it.
    const target = await server.admin.post(`${T}/targets`, { name: 'emergency-hosts', kind: 'ssh-certificate', config: { principalsAllowed: ['deploy'] } });
    expect(target.status, JSON.stringify(target.body)).toBe(201);
    emergencyTargetId = target.body.target.id;
    const policy = await server.admin.post(`${T}/policies`, {
      name: 'emergency',
      targetId: emergencyTargetId,
      requesterRoles: ['owner'],
      maxDurationSeconds: 3600,
      defaultDurationSeconds: 1800,
      rules: { approvalLevels: [{ approverIds: [added.id] }], breakGlass: { allowed: true } },
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);

    // web-01 is enrolled and reports its health before anyone looks.
    const token = await server.admin.post(`${T}/agents/enrolment-tokens`, { name: 'web-01', expiresInMinutes: 10 });
    web01 = await enrol(token.body.token, 'web-01.example.test');
    // As a real agent does: it is served its state first, then reports having applied it.
    expect((await web01.call('GET', '/api/v1/agents/desired-state?since=-1&wait=0', undefined, { timeoutMs: 5_000 })).status).toBe(200);
    const beat = await web01.call('POST', '/api/v1/agents/heartbeat', { version: '0.1.0', health: { appliedVersion: 1, grants: { active: 2 }, failing: 1, journalBacklog: 3 } }, { timeoutMs: 5_000 });
    expect(beat.status).toBe(200);

    browser = await launchChromium();
    ({ context, page } = await openAs(server.adminLogin.email, server.adminLogin.password));
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    for (const d of stateDirs) await rm(d, { recursive: true, force: true });
  });

  it('lists an enrolled agent with its health, live, and marks it stale once it falls silent', async () => {
    const links = await page.getByRole('navigation', { name: /sections$/ }).getByRole('link').allTextContents();
    expect(links).toEqual(expect.arrayContaining(['Reviews', 'Agents']));
    await nav(page, 'Agents');
    await heading(page, 'Agents');
    const row = agentRow(page, web01.agentId);
    await row.getByText('web-01.example.test').waitFor();
    expect(await textOf(row.getByRole('rowheader'))).toMatch(/^web-01/);
    expect(await textOf(row.getByTestId('agent-status'))).toBe('Online');
    const health = await row.getByTestId('agent-health').locator('li').allTextContents();
    expect(health).toEqual(['Up to date (version 1)', 'Grants: 2 active', '1 failing, being retried', '3 journal entries not uploaded yet']);
    // "Last seen" counts on by itself, without a reload.
    const seen = row.getByTestId('last-seen');
    const first = await textOf(seen);
    expect(first).toMatch(/^(just now|\d+ s ago)$/);
    await expect.poll(() => textOf(seen), { timeout: 6_000 }).not.toBe(first);
    expect(await textOf(seen)).toMatch(/^\d+ s ago$/);
    await shot(page, 'fleet');

    // Four minutes of silence on the server's clock (the page learns it when it reconnects).
    server.clock.shift(4 * 60_000);
    try {
      await page.reload();
      await heading(page, 'Agents');
      await expect.poll(() => textOf(row.getByTestId('agent-status'))).toBe('Stale');
      expect(await textOf(seen)).toBe('4 min ago');
    } finally {
      server.clock.shift(-4 * 60_000);
    }
    await page.reload();
    await expect.poll(() => textOf(row.getByTestId('agent-status'))).toBe('Online');
  });

  it('shows a new enrolment token once, with the exact commands; the host enrolled with it appears', async () => {
    await page.getByRole('button', { name: 'Add agent' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add an agent' });
    await dialog.getByLabel('Name (optional)').fill('db-02');
    await dialog.getByLabel('Token valid for').selectOption({ label: '8 hours' });
    await dialog.getByRole('button', { name: 'Create enrolment token' }).click();

    const shown = page.getByRole('dialog', { name: 'Enrol db-02' });
    await shown.getByText('This is the only time the token is shown.').waitFor();
    const token = await shown.getByLabel('Enrolment token', { exact: true }).inputValue();
    expect(token).toMatch(/^tbe_[A-Za-z0-9_-]{43}$/);
    const enrolCommand = await shown.getByLabel('1. Enrol the host', { exact: true }).inputValue();
    expect(enrolCommand).toBe(`TIMEBOX_ENROLMENT_TOKEN=${token} timebox agent enroll --server ${server.url} --state-dir /var/lib/timebox-agent`);
    expect(await shown.getByLabel('2. Start the agent', { exact: true }).inputValue()).toBe('timebox agent run --state-dir /var/lib/timebox-agent');
    await shown.getByRole('button', { name: 'Copy 1. enrol the host' }).click();
    await shown.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(enrolCommand);
    await shot(page, 'fleet-enrolment-token');

    db02 = await enrol(token, 'db-02.example.test');
    await shown.getByRole('button', { name: 'Done' }).click();
    const row = agentRow(page, db02.agentId);
    await row.getByText('db-02.example.test').waitFor();
    expect(await textOf(row.getByTestId('agent-status'))).toBe('Online');
    expect(await row.getByTestId('agent-health').locator('li').allTextContents()).toEqual(['Desired state (version 1) not applied yet', 'No heartbeat yet']);
    // Gone for good: nowhere on the page, and the server refuses it a second time.
    expect(await page.content()).not.toContain(token);
    await expect(enrol(token, 'db-03.example.test')).rejects.toThrow(/already used/);
  });

  it('creates the host target of an agent from the fleet, objections inline, and links to it', async () => {
    await agentRow(page, web01.agentId).getByRole('button', { name: 'Create host target for web-01' }).click();
    const dialog = page.getByRole('dialog', { name: 'Host target for web-01' });
    await dialog.getByLabel('Local groups that may be granted').fill('adm');
    await dialog.getByRole('button', { name: 'Add sudo rule' }).click();
    const rule = dialog.getByTestId('sudo-rule-1');
    await rule.getByLabel('Rule name').fill('psql');
    await rule.getByLabel('Run as').fill('postgres');
    await rule.getByLabel('Commands').fill('psql');
    await dialog.getByRole('button', { name: 'Create host target' }).click();
    // The server's rule, under the rule's commands.
    await rule.getByRole('alert').getByText('sudo command "psql" must be ALL or start with an absolute path').waitFor();
    expect(((await server.admin.get(`${T}/targets`)).body.items as { name: string }[]).map((t) => t.name)).toEqual(['emergency-hosts']);

    await rule.getByLabel('Commands').fill('/usr/bin/psql');
    await dialog.getByRole('button', { name: 'Create host target' }).click();
    const done = page.getByRole('dialog', { name: 'Host target web-01 created' });
    await done.getByRole('status', { name: 'Connection test of web-01' }).getByText(/agent web-01 on web-01.example.test/).waitFor();
    await done.getByRole('link', { name: 'Open web-01 in Targets' }).click();
    await heading(page, 'Targets');
    const linked = page.locator('tr[aria-current="true"]');
    expect(await textOf(linked.getByRole('rowheader'))).toBe('web-01');
    expect(await textOf(linked.locator('td').first())).toBe('Linux host (agent)');
    const entitlements = await server.admin.get(`${T}/targets/${(await linked.getAttribute('id'))!.slice('target-'.length)}/entitlements`);
    expect(entitlements.body.items.map((e: { externalId: string }) => e.externalId)).toEqual(expect.arrayContaining(['sudo:psql', 'group:adm']));
  });

  it('revokes an agent after saying what that does; it shows revoked and is refused', async () => {
    await nav(page, 'Agents');
    const row = agentRow(page, db02.agentId);
    await row.getByRole('button', { name: 'Revoke db-02' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke agent db-02?' });
    expect(await textOf(dialog)).toMatch(/locked out at once.*still ended on time by the agent’s own schedule/s);
    await dialog.getByRole('button', { name: 'Revoke agent' }).click();
    await page.getByRole('status').getByText('Revoked db-02: it can no longer reach Timebox.', { exact: false }).waitFor();
    expect(await textOf(row.getByTestId('agent-status'))).toMatch(/^Revoked/);
    expect(await row.getByRole('button').count()).toBe(0);
    const beat = await db02.call('POST', '/api/v1/agents/heartbeat', { version: '0.1.0', health: { appliedVersion: 1 } }, { timeoutMs: 5_000 });
    expect(beat.status).toBe(401);
  });

  it('offers every kind in the target form; refuses a bad SSH certificate config inline and saves nothing, then creates it', async () => {
    await nav(page, 'Targets');
    await page.getByRole('button', { name: 'Add target' }).click();
    const kinds = await page.getByLabel('Kind').locator('option').allTextContents();
    expect(kinds).toEqual(
      expect.arrayContaining(['PostgreSQL', 'Active Directory', 'Active Directory groups', 'Linux host (agent)', 'Linux host, existing users (agent)', 'SSH certificates', 'X.509 client certificates', 'Security tokens (JWT)']),
    );
    // Host targets pick their agent from the fleet; the revoked one is not offered.
    await page.getByLabel('Kind').selectOption({ label: 'Linux host, existing users (agent)' });
    const agents = page.getByLabel('Agent', { exact: true });
    await agents.locator('option', { hasText: 'web-01' }).waitFor({ state: 'attached' });
    expect(await agents.locator('option').allTextContents()).toEqual(['Choose an agent…', 'web-01 (web-01.example.test)']);
    expect(await page.getByLabel('Password delivery').count()).toBe(0);
    await page.getByLabel('Kind').selectOption({ label: 'SSH certificates' });
    await page.getByLabel('Name', { exact: true }).fill('bastion');
    await page.getByRole('button', { name: 'Add target' }).click();
    // The server's rule, from the kind's schema: no copy of it in the dashboard.
    expect(await textOf(page.locator('#target-principals-allowed-error'))).toBe(
      'list the principals that may be granted (principalsAllowed), or give a principal pattern (principalPattern), or both.',
    );

    await page.getByLabel('Principals that may be granted').fill('deploy*\nops');
    await page.getByLabel('Source addresses (optional)').fill('10.0.0.0/8\nnot-an-address');
    await page.getByRole('button', { name: 'Add target' }).click();
    expect(await textOf(page.locator('#target-principals-allowed-error'))).toBe('principal "deploy*" contains a wildcard (\'*\' or \'?\').');
    expect(await textOf(page.locator('#target-source-addresses-error'))).toBe('Line 2: must be an IP address or CIDR.');
    await shot(page, 'target-form-ssh', true);
    expect(((await server.admin.get(`${T}/targets`)).body.items as { name: string }[]).map((t) => t.name)).not.toContain('bastion');

    await page.getByLabel('Principals that may be granted').fill('deploy\nops');
    await page.getByLabel('Source addresses (optional)').fill('10.0.0.0/8');
    await page.getByRole('checkbox', { name: /permit-port-forwarding/ }).check();
    await page.getByRole('button', { name: 'Add target' }).click();
    await page.getByRole('status', { name: 'Connection test of bastion' }).getByText('✓ Connection works').waitFor();
    const row = page.getByRole('row', { name: /bastion/ });
    expect(await textOf(row.locator('td').first())).toBe('SSH certificates');
    const principals = await server.admin.get(`${T}/targets/${(await row.getAttribute('id'))!.slice('target-'.length)}/entitlements`);
    expect(principals.body.items.map((e: { externalId: string }) => e.externalId)).toEqual(['deploy', 'ops']);
  });

  it('refuses the review of one’s own break-glass access inline; a second admin records it and it leaves the list', async () => {
    const glass = await server.admin.post(`${T}/requests`, {
      targetId: emergencyTargetId,
      entitlements: ['deploy'],
      durationSeconds: 900,
      reason: 'INC-9001 the deploy pipeline is down',
      emergency: true,
    });
    expect(glass.status, JSON.stringify(glass.body)).toBe(201);
    expect(glass.body.state).toBe('active');

    await nav(page, 'Reviews');
    await heading(page, 'Reviews and alerts');
    const own = page.getByRole('article', { name: `Break-glass ${server.adminLogin.email} on emergency-hosts` });
    await own.getByText('INC-9001 the deploy pipeline is down').waitFor();
    await own.getByLabel('Justified', { exact: true }).check();
    await own.getByLabel('What you found').fill('all fine');
    await own.getByRole('button', { name: 'Record review' }).click();
    expect(await textOf(own.locator('.form-error'))).toBe('you cannot review your own break-glass access');
    const alerts = page.getByRole('table', { name: 'Open alerts' });
    const alert = alerts.getByRole('row', { name: /break-glass access granted without approval/ });
    expect(await textOf(alert.locator('td').nth(0))).toBe('warning');
    expect(await textOf(alert.locator('td').nth(1))).toBe(`${server.adminLogin.email} on emergency-hosts (deploy)`);

    const second = await openAs(dana.email, dana.password);
    try {
      await nav(second.page, 'Reviews');
      const card = second.page.getByRole('article', { name: `Break-glass ${server.adminLogin.email} on emergency-hosts` });
      await card.getByText('deploy', { exact: true }).waitFor();
      await card.getByRole('button', { name: 'Record review' }).click();
      expect(await textOf(card.locator('[id$="-verdict-error"]'))).toBe('Say whether the emergency access was justified.');
      await card.getByLabel('Not justified').check();
      await card.getByLabel('What you found').fill('the pipeline outage was a planned freeze; should have waited');
      await shot(second.page, 'reviews');
      await card.getByRole('button', { name: 'Record review' }).click();
      await second.page.getByRole('status').getByText(`Review recorded: the break-glass access of ${server.adminLogin.email} was not justified.`).waitFor();
      await second.page.getByTestId('reviews-empty').waitFor();
      await second.page.getByTestId('alerts-empty').waitFor();
    } finally {
      await second.context.close();
    }
    const done = await server.admin.get(`${T}/reviews?open=false`);
    expect(done.body.items).toEqual([expect.objectContaining({ grantId: glass.body.id, verdict: 'not_justified', reviewedAt: expect.any(String) })]);
  });

  it('opens a second tab signed in, which can act; an ended session sends it back to sign-in', async () => {
    const tab = await context.newPage();
    tab.on('pageerror', (e) => problems.push(e.message));
    await tab.goto('/t/default/agents');
    await heading(tab, 'Agents');
    expect(await tab.evaluate('sessionStorage.getItem("timebox.csrf")')).toBeNull();
    await tab.getByRole('button', { name: 'Add agent' }).click();
    await tab.getByRole('dialog', { name: 'Add an agent' }).getByRole('button', { name: 'Create enrolment token' }).click();
    const shown = tab.getByRole('dialog', { name: 'Enrol a new agent' });
    expect(await shown.getByLabel('Enrolment token', { exact: true }).inputValue()).toMatch(/^tbe_/);
    await shown.getByRole('button', { name: 'Done' }).click();
    // It knows when the shared session ends, though it never signed in.
    await tab.goto('/t/default/settings');
    const ends = tab.getByRole('term').filter({ hasText: 'Session ends' }).locator('xpath=following-sibling::dd[1]');
    expect(await ends.textContent()).toMatch(/\d{4}|\d:\d\d/);

    // Twelve hours later the session is over: the tab learns it from its event stream and offers
    // the sign-in page with a word of explanation (the first tab too).
    server.clock.shift(12 * 3600_000 + 60_000);
    for (const p of [tab, page]) await p.getByRole('heading', { name: 'Sign in to Timebox' }).waitFor();
    await tab.getByText('Your session has ended. Sign in again to continue.').waitFor();
    expect(problems).toEqual([]);
  });
});
