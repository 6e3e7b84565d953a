/**
 * Sessions through the SSH gateway in the dashboard, with real pieces: the system OpenSSH client
 * on a terminal (ssh -tt) → `timebox gateway` (its own process) → a real sshd on a throwaway host;
 * the auditor's Chromium on the server beside it. The auditor watches the shell as it is typed,
 * terminates it (the person's ssh exits), plays it back beside the commands typed — never the
 * password typed at an echo-off prompt — and finds it by searching the commands. The live view,
 * the commands and their search answer admins and auditors of the tenant only. Screenshots at
 * 1366 × 800 and 390 × 844 go to test-artifacts/.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitUntil } from '../agent/support.js';
import { startGatewayRig, type GatewayRig } from '../support/gateway.js';
import type { Member } from '../support/http.js';
import { createMember } from '../support/test-server.js';
import { builtSpa, launchChromium, screenshotDir } from './support.js';

const T = '/api/v1/tenants/default';
const desktop = { width: 1366, height: 800 };
const phone = { width: 390, height: 844 };
const SECRET = 'hunter2-never-listed';

describe('gateway sessions in the dashboard: live view, terminate, playback, commands', () => {
  let rig: GatewayRig;
  let browser: Browser;
  let page: Page;
  let ann: Member; // requester who connects
  let audrey: Member; // auditor who watches
  let bob: Member; // another requester
  let otherAdmin: Member; // owner of another tenant
  let sessionId = '';
  const problems: string[] = [];

  async function shots(name: string) {
    await page.setViewportSize(desktop);
    await page.screenshot({ path: join(screenshotDir, `${name}-1366.png`), fullPage: true });
    await page.setViewportSize(phone);
    // Nothing sticks out sideways on a phone (the live terminal scrolls inside its own box).
    await expect.poll(() => page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(phone.width);
    await page.screenshot({ path: join(screenshotDir, `${name}-390.png`), fullPage: true });
    await page.setViewportSize(desktop);
  }
  /** The live terminal's text (xterm draws spaces as no-break spaces). */
  const screenHas = (text: string) =>
    page
      .getByTestId('live-terminal')
      .locator('.xterm-rows')
      .filter({ hasText: text })
      .waitFor({ timeout: 20_000 });

  beforeAll(async () => {
    await mkdir(screenshotDir, { recursive: true });
    rig = await startGatewayRig({ pgAdminUrl: inject('pgAdminUrl'), serverEnv: { TIMEBOX_WEB_DIR: builtSpa() } });
    const tb = rig.server.tb;
    ann = await createMember(tb, 'default', 'ann@example.test', ['requester']);
    audrey = await createMember(tb, 'default', 'audrey@example.test', ['auditor']);
    bob = await createMember(tb, 'default', 'bob@example.test', ['requester']);
    expect((await rig.server.admin.post('/api/v1/tenants', { slug: 'other', name: 'Other customer' })).status).toBe(201);
    otherAdmin = await createMember(tb, 'other', 'olga@example.test', ['admin']);

    browser = await launchChromium();
    const context = await browser.newContext({ baseURL: rig.server.url, viewport: desktop, locale: 'en-GB', timezoneId: 'UTC' });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 40[0-9]/.test(m.text())) problems.push(m.text());
    });
    await page.goto('/');
    await page.getByLabel('Email').fill(audrey.email);
    await page.getByLabel('Password').fill(audrey.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Just-in-time accounts' }).waitFor();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await rig?.destroy();
  });

  it('watches a shell as it is typed, terminates it, plays it back beside the commands typed, and finds it by a command', async () => {
    const grant = await ann.api.post(`${T}/requests`, {
      targetId: rig.targetId,
      entitlements: ['users'],
      durationSeconds: 600,
      reason: 'INC-4242 restart the web server',
      ticket: 'INC-4242',
      accountName: 'tbgwlive',
    });
    expect(grant.status, JSON.stringify(grant.body)).toBe(201);
    await waitUntil('the account on the host', 30_000, async () => (await rig.ns.exec(['getent', 'passwd', 'tbgwlive'])).code === 0);
    const id = await rig.identity(ann.api, 'ann-live');
    // The agent may need a moment to set the password: a command through the gateway tells.
    await waitUntil('a login through the gateway', 60_000, async () => {
      const probe = spawn('/usr/bin/ssh', rig.sshArgs('web-01', id, ['true']), { env: rig.sshEnv() });
      const code = await new Promise<number | null>((resolve) => probe.once('exit', (c) => resolve(c)));
      return code === 0;
    });

    // Ann's shell on a terminal; her keystrokes go in as a terminal would send them.
    const ssh: ChildProcessWithoutNullStreams = spawn('/usr/bin/ssh', rig.sshArgs('web-01', id, [], ['-tt']), { env: { ...rig.sshEnv(), TERM: 'xterm' } });
    let annSaw = '';
    ssh.stdout.on('data', (d) => (annSaw += String(d)));
    const exited = new Promise<number | null>((resolve) => ssh.once('exit', (code) => resolve(code)));
    const type = (text: string) => ssh.stdin.write(text);

    // The auditor finds it among the live sessions and opens it.
    await page.getByRole('navigation', { name: /sections$/ }).getByRole('link', { name: 'Sessions', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor();
    const row = page.getByTestId('live-sessions').getByRole('link', { name: 'ann@example.test' });
    await row.waitFor();
    sessionId = (await row.getAttribute('href'))!.split('/').pop()!;
    await row.click();
    await page.getByTestId('live-state').filter({ hasText: 'watching' }).waitFor();
    await expect.poll(() => page.getByTestId('session-reason').textContent()).toBe('INC-4242 restart the web server');

    // Text appears as it is typed: half a command, before Enter, is on the auditor's screen.
    type('echo watch');
    await screenHas('echo watch');
    type('ed-$((6*7))\r');
    await screenHas('watched-42');
    type("read -s -p 'Password: ' pw\r");
    await screenHas('Password: ');
    type(`${SECRET}\r`);
    type('echo; echo got-$((${#pw}+0))\r');
    await screenHas(`got-${SECRET.length}`);
    type('systemctl restart nginx; echo step-$((2+1))\r');
    await screenHas('step-3');
    expect(await page.locator('[data-testid="live-terminal"] .xterm-rows').textContent()).not.toContain(SECRET);
    await shots('gateway-live-view');

    // Terminate: confirmed, the person's ssh exits, the page says it ended and why.
    await page.getByRole('button', { name: 'Terminate' }).click();
    const dialog = page.getByRole('dialog', { name: 'Terminate this session?' });
    await dialog.getByRole('button', { name: 'Terminate session' }).click();
    const code = await exited;
    expect(code).not.toBe(0);
    expect(annSaw).toContain('an administrator ended this session');
    await page.getByText('The session has ended: terminated by an administrator.').waitFor();

    // The finished session: playback with its controls, beside the commands typed.
    const player = page.getByTestId('player');
    await player.locator('.ap-player').waitFor();
    // Seek bar and time always in view; the speed beside it.
    await player.locator('.ap-control-bar .ap-progressbar').waitFor();
    await player.locator('.ap-time-elapsed').waitFor();
    await page.getByLabel('Speed').selectOption('2');
    await player.locator('.ap-player').waitFor();
    await page.getByTestId('session-end').filter({ hasText: 'terminated by an administrator' }).waitFor();
    const list = page.getByTestId('command-list');
    await list.waitFor();
    const commands = (await list.locator('code').allTextContents()).map((c) => c.trim());
    expect(commands).toEqual(['echo watched-$((6*7))', "read -s -p 'Password: ' pw", 'echo; echo got-$((${#pw}+0))', 'systemctl restart nginx; echo step-$((2+1))']);
    expect(await page.locator('main').textContent()).not.toContain(SECRET);
    // A command seeks the player to the moment it was entered.
    await list.getByRole('button', { name: /systemctl restart nginx/ }).click();
    await expect.poll(async () => (await player.locator('.ap-time-elapsed').textContent())?.trim(), { timeout: 10_000 }).toMatch(/^(?!00:00$)\d\d:\d\d$/);
    await shots('gateway-playback');

    // Across sessions: which sessions ran `systemctl restart`.
    await page.getByRole('link', { name: 'All sessions' }).click();
    await page.getByLabel('Command text').fill('systemctl restart');
    await page.getByRole('button', { name: 'Search commands' }).click();
    const hits = page.getByTestId('command-hits');
    await hits.getByText('systemctl restart nginx; echo step-$((2+1))').waitFor();
    await expect.poll(() => hits.getByRole('link').first().getAttribute('href')).toContain(sessionId);
    await shots('gateway-command-search');
    await page.getByLabel('Command text').fill(SECRET.slice(0, 8));
    await page.getByRole('button', { name: 'Search commands' }).click();
    await page.getByText(`No command typed in a session contains “${SECRET.slice(0, 8)}”.`).waitFor();
    expect(problems).toEqual([]);
  }, 240_000);

  it('live view, commands and their search: admins and auditors of the tenant only; watching is audited', async () => {
    expect(sessionId).not.toBe('');
    // Finished: the stream sends the whole recording, then its end.
    const watched = await audrey.api.get(`${T}/gateway-sessions/${sessionId}/live`);
    expect(watched.status).toBe(200);
    expect(String(watched.body)).toMatch(/^event: header\n/);
    expect(String(watched.body)).toContain('watched-42');
    expect(String(watched.body)).toMatch(/event: end\ndata: \{"endReason":"killed"\}/);
    expect(String(watched.body)).not.toContain(SECRET);
    // Event for event, the stream is the recording: numbered 1, 2, 3… and nothing repeated.
    const cast = String((await audrey.api.get(`${T}/gateway-sessions/${sessionId}/recording`)).body);
    const recorded = cast.trim().split('\n').slice(1).map((l) => JSON.parse(l) as [number, string, string]);
    const streamed = String(watched.body)
      .split('\n\n')
      .filter((b) => b.startsWith('event: out\n'))
      .map((b) => JSON.parse(b.slice(b.indexOf('data: ') + 6)) as { seq: number; data: string });
    expect(streamed.map((e) => e.data).join('')).toBe(recorded.filter((e) => e[1] === 'o').map((e) => e[2]).join(''));
    expect(streamed.map((e) => e.seq)).toEqual(recorded.flatMap((e, i) => (e[1] === 'o' ? [i + 1] : [])));
    expect((await rig.server.admin.get(`${T}/gateway-sessions/${sessionId}/commands`)).body.items).toHaveLength(4);

    for (const path of [`${T}/gateway-sessions/${sessionId}/live`, `${T}/gateway-sessions/${sessionId}/commands`, `${T}/gateway-commands?q=systemctl`]) {
      expect((await bob.api.get(path)).status, path).toBe(403);
      expect((await ann.api.get(path)).status, path).toBe(403);
      // Another tenant's admin: neither this tenant nor the session exists for them.
      expect((await otherAdmin.api.get(path)).status, path).toBe(404);
      expect((await otherAdmin.api.get(path.replace('/tenants/default/', '/tenants/other/'))).status, path).toBe(path.includes('gateway-commands') ? 200 : 404);
    }
    expect((await otherAdmin.api.get('/api/v1/tenants/other/gateway-commands?q=systemctl')).body.items).toEqual([]);
    expect((await audrey.api.get(`${T}/gateway-commands?q=x`)).status).toBe(400);

    const audit = (await rig.server.admin.get(`${T}/audit?action=gateway.session_watched&limit=50`)).body.items as Array<Record<string, any>>;
    const mine = audit.filter((e) => JSON.stringify(e).includes(sessionId) && JSON.stringify(e).includes(audrey.id));
    expect(mine.length).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
