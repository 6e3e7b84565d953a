/**
 * The CLI's single sign-on against a real OpenID provider: `timebox sso set|show` by the owner;
 * `timebox login --sso` prints the provider URL, Chromium signs in there, the browser lands on
 * the CLI's loopback and the CLI holds a session; `--device` shows a code that Chromium confirms
 * at the provider while the CLI polls. Both sessions reach the SSO tenant only.
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledEntry } from '../harness/compiled.js';
import { startTestProvider, type TestProvider } from '../harness/oidc-provider.js';
import { launchChromium, screenshotDir } from '../web/support.js';
import { runCli, startTestServer, type CliResult, type TestServer } from './harness.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let server: TestServer;
let idp: TestProvider;
let browser: Browser;
let adminEnv: Record<string, string>;

beforeAll(async () => {
  server = await startTestServer();
  idp = await startTestProvider({ redirectUris: [`${server.url}/api/v1/auth/sso/callback`] });
  idp.setAccount('erin', { email: 'erin@example.test', emailVerified: true, name: 'Erin Ops', groups: ['ops'] });
  adminEnv = { TIMEBOX_CONFIG: path.join(server.dir, 'admin.json') };
  await mkdir(screenshotDir, { recursive: true });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await idp?.close();
  await server?.close();
});

/** The CLI as a person runs it, with its stderr readable while it waits. */
function startCli(args: string[], env: Record<string, string>) {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('TIMEBOX_')) childEnv[k] = v;
  // No desktop here: the CLI must not try to open a browser, it prints the URL.
  delete childEnv.DISPLAY;
  delete childEnv.WAYLAND_DISPLAY;
  Object.assign(childEnv, { NO_COLOR: '1' }, env);
  const child = spawn(process.execPath, [compiledEntry('cli/main'), ...args], { cwd: root, env: childEnv });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  const waiters: (() => void)[] = [];
  child.stderr.on('data', (d) => {
    stderr += String(d);
    for (const w of waiters.splice(0)) w();
  });
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return {
    done,
    /** Resolves with the first match of `re` in stderr, as soon as it is printed. */
    async stderrMatch(re: RegExp): Promise<RegExpExecArray> {
      for (;;) {
        const m = re.exec(stderr);
        if (m) return m;
        const exited = await Promise.race([new Promise<false>((r) => waiters.push(() => r(false))), done.then(() => true)]);
        if (exited) {
          const last = re.exec(stderr);
          if (last) return last;
          throw new Error(`the CLI ended without printing ${re}: ${stderr}`);
        }
      }
    },
  };
}

async function providerPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  context.setDefaultTimeout(15_000);
  await context.route(/fonts\.googleapis\.com/, (r) => r.abort());
  return context.newPage();
}

async function loginAtProvider(page: Page, login: string) {
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}

describe('timebox sso and login --sso', () => {
  it('sso set keeps the secret off the command line and sso show never prints it', async () => {
    const login = await runCli(['login', '--server', server.url, '--email', server.admin.email, '--password-stdin'], { env: adminEnv, input: `${server.admin.password}\n` });
    expect(login.code).toBe(0);
    const set = await runCli(
      ['--tenant', 'default', 'sso', 'set', '--issuer', idp.issuer, '--client-id', idp.clientId, '--client-secret-stdin', '--scopes', 'openid email profile groups', '--map', 'ops=requester,approver'],
      { env: adminEnv, input: `${idp.clientSecret}\n` },
    );
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('Single sign-on saved for tenant default.');
    const shown = await runCli(['--tenant', 'default', 'sso', 'show'], { env: adminEnv });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/client secret:\s+stored \(never shown\)/);
    expect(shown.stdout).toMatch(/roles:\s+ops=requester,approver/);
    expect(shown.stdout).toContain(`${server.url}/api/v1/auth/sso/callback`);
    expect(shown.stdout).not.toContain(idp.clientSecret);
  });

  it('login --sso prints the URL; signing in there hands the CLI a session through its loopback', async () => {
    const env = { TIMEBOX_CONFIG: path.join(server.dir, 'erin.json') };
    const cli = startCli(['login', '--sso', '--tenant', 'default', '--server', server.url], env);
    const [url] = await cli.stderrMatch(/^http:\/\/127\.0\.0\.1:\d+\/auth\?\S+$/m);
    expect(url).toContain('code_challenge_method=S256');
    // The provider talks to the server, never to the CLI: the redirect URI is the server's.
    expect(new URL(url!).searchParams.get('redirect_uri')).toBe(`${server.url}/api/v1/auth/sso/callback`);
    // Another local process (or a web page scanning ports) answers the loopback first, with words
    // meant for the terminal: the CLI ignores it, since only the server knows the path it was given.
    const flow = await server.tb.store.db.selectFrom('sso_flows').select('cli_redirect').where('cli_redirect', 'is not', null).orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    const loopback = new URL(flow.cli_redirect!);
    expect(loopback.pathname).toMatch(/^\/callback\/[A-Za-z0-9_-]{22}$/);
    const forged = await fetch(`http://127.0.0.1:${loopback.port}/callback?error_description=${encodeURIComponent('\u001b[2J\u001b]0;owned\u0007fake')}`);
    expect(forged.status).toBe(404);
    const page = await providerPage();
    await page.goto(url!);
    await loginAtProvider(page, 'erin');
    await page.getByRole('heading', { name: 'Signed in' }).waitFor();
    expect(new URL(page.url()).hostname).toBe('127.0.0.1');
    await page.screenshot({ path: path.join(screenshotDir, 'sso-cli-loopback.png') });
    const r = await cli.done;
    expect(r.stderr).toContain('Open this URL in a browser to sign in:');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Signed in to http:\/\/127\.0\.0\.1:\d+ as erin@example\.test until .+\.\nTenants: default \(requester, approver\); working in default\n/);
    const who = await runCli(['whoami'], { env });
    expect(who.code).toBe(0);
    expect(who.stdout).toMatch(/email:\s+erin@example\.test/);
    await page.context().close();
  });

  it('login --sso --device shows a code to confirm at the provider and polls until it is approved', async () => {
    const env = { TIMEBOX_CONFIG: path.join(server.dir, 'erin-device.json') };
    const cli = startCli(['login', '--sso', '--device', '--tenant', 'default', '--server', server.url], env);
    const m = await cli.stderrMatch(/open (\S+) and enter the code (\S+)\n\(or open (\S+)\)/);
    const [, verificationUri, userCode, complete] = m;
    expect(verificationUri).toBe(`${idp.issuer}/device`);
    const page = await providerPage();
    await page.goto(complete!);
    expect(await page.locator('code').textContent()).toBe(userCode);
    await page.screenshot({ path: path.join(screenshotDir, 'sso-device-confirm.png') });
    await page.getByRole('button', { name: 'Continue' }).first().click();
    await loginAtProvider(page, 'erin');
    await page.getByText(/Sign-in Success|signed in|success/i).first().waitFor();
    await page.screenshot({ path: path.join(screenshotDir, 'sso-device-done.png') });
    const r = await cli.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Signed in to .* as erin@example\.test/);
    await page.context().close();
  });

  it('a tenant without single sign-on says so', async () => {
    const r = await runCli(['login', '--sso', '--tenant', 'nowhere', '--server', server.url], { env: { TIMEBOX_CONFIG: path.join(server.dir, 'x.json') } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe('timebox: single sign-on is not set up for tenant nowhere\n');
  });
});
