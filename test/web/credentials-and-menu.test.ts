/**
 * Certificates in the activate wizard and the JIT account menu's "Rotate password" and "Delete",
 * in a real browser (Debian's chromium through playwright-core) against a real Timebox, a real
 * PostgreSQL target and an ssh-certificate target. The wizard asks for no username on the
 * certificate target and takes a public key (pasted or from a file); the server's objection to a
 * malformed key shows under the field and nothing is created; the certificate shown once is one
 * ssh-keygen reads, for the principal and exactly the grant's validity, signed by the tenant's CA;
 * without a key the dialog also shows the generated private key, which matches the certificate.
 * A rotated password logs in with psql and the old one is refused; a deleted account leaves the
 * list and its role is gone from PostgreSQL. Screenshots go to test-artifacts/.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runArgv } from '../harness/sshd.js';
import { addMember, type ApiClient } from '../support/http.js';
import { preparePgTarget, psql, type PgTarget } from '../support/pg-target.js';
import { builtSpa, launchChromium, screenshotDir, startWebServer, type WebServer } from './support.js';

const T = '/api/v1/tenants/default';
const hex = randomBytes(3).toString('hex');
const sam = { email: `sam.${hex}@example.com`, password: '', account: `sam_${hex}_jit` };
/** ssh-keygen with UTC times, so validity compares with the API's ISO times. */
const keygen = (args: string[]) => runArgv('ssh-keygen', args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC' } });
const sshTime = (iso: string) => new Date(Math.floor(+new Date(iso) / 1000) * 1000).toISOString().slice(0, 19);

describe('certificates in the wizard, rotate and delete in the JIT account menu', () => {
  let server: WebServer;
  let target: PgTarget;
  let browser: Browser;
  let page: Page;
  let scratch = '';
  let samApi: ApiClient;
  let pgTargetId = '';
  let sshTargetId = '';
  let publicKey = '';
  const problems: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(screenshotDir, `${name}.png`) });
  const textOf = async (l: Locator) => (await l.textContent())?.trim() ?? '';
  const row = (username: string) => page.locator(`tr[data-account="${username}"]`);
  const openMenu = (username: string) => row(username).getByRole('button', { name: `Actions for ${username}` }).click();
  const sshGrants = async () => (await server.admin.get(`${T}/grants?targetId=${sshTargetId}`)).body.items as { id: string }[];

  /** Saves what a Download button offers; returns the suggested file name and where it was saved. */
  async function download(field: Locator, as: string): Promise<{ name: string; file: string }> {
    const [d] = await Promise.all([page.waitForEvent('download'), field.getByRole('button', { name: /^Download/ }).click()]);
    const file = join(scratch, as);
    await d.saveAs(file);
    return { name: d.suggestedFilename(), file };
  }

  async function startSshRequest(reason: string) {
    await page.goto('/t/default/jit-accounts/activate');
    // The kind's label as the server declares it (GET /target-kinds), in the choice and the form.
    await page.getByRole('button', { name: /^SSH certificates/ }).click();
    await page.getByRole('form', { name: 'Activate SSH certificates JIT account' }).waitFor();
    await page.getByLabel('Search principals').fill('deploy');
    await page.getByRole('checkbox', { name: 'deploy' }).check();
    await page.getByLabel('Reason').fill(reason);
  }

  const roleExists = async (name: string) => {
    const c = new pg.Client({ connectionString: target.db.url });
    await c.connect();
    try {
      return (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount === 1;
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    const adminUrl = inject('pgAdminUrl');
    scratch = await mkdtemp(join(tmpdir(), 'timebox-web-keys-'));
    const [pgTarget] = await Promise.all([preparePgTarget(adminUrl), mkdir(screenshotDir, { recursive: true })]);
    target = pgTarget;
    server = await startWebServer({ adminUrl, distDir: builtSpa(), pollMs: 200 });

    pgTargetId = (await server.admin.post(`${T}/targets`, { name: 'orders-db', kind: 'postgres', config: target.config })).body.target.id;
    const ssh = await server.admin.post(`${T}/targets`, { name: 'web-hosts', kind: 'ssh-certificate', config: { principalsAllowed: ['deploy', 'www-data'] } });
    expect(ssh.status, JSON.stringify(ssh.body)).toBe(201);
    sshTargetId = ssh.body.target.id;
    const listed = (await server.admin.get(`${T}/targets`)).body.items as { name: string; accountName: string }[];
    expect(Object.fromEntries(listed.map((t) => [t.name, t.accountName]))).toEqual({ 'orders-db': 'per-person', 'web-hosts': 'requester' });
    for (const [name, targetId, entitlements] of [
      ['orders read', pgTargetId, [target.readers]],
      ['ssh deploy', sshTargetId, ['deploy']],
    ] as const) {
      const p = await server.admin.post(`${T}/policies`, { name, targetId, entitlements, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 1800 });
      expect(p.status, JSON.stringify(p.body)).toBe(201);
    }
    const added = await addMember(server.url, server.admin, 'default', sam.email, ['requester']);
    sam.password = added.password;
    samApi = added.api;

    const keyFile = join(scratch, 'id_ed25519');
    const gen = await keygen(['-q', '-t', 'ed25519', '-N', '', '-C', sam.email, '-f', keyFile]);
    expect(gen.code, gen.stderr).toBe(0);
    publicKey = (await readFile(`${keyFile}.pub`, 'utf8')).trim();

    browser = await launchChromium();
    const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1366, height: 900 }, acceptDownloads: true });
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 40[0-9]/.test(m.text())) problems.push(m.text());
    });
    await page.goto('/');
    await page.getByLabel('Email').fill(sam.email);
    await page.getByLabel('Password').fill(sam.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Just-in-time accounts' }).waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await target?.drop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('requests an SSH certificate for a pasted public key; a malformed key is refused inline and creates nothing', async () => {
    await startSshRequest('CHG-81 deploy the web tier');
    expect(await page.getByLabel('Username').count()).toBe(0);
    expect(await textOf(page.getByTestId('issued-to'))).toContain(sam.email);

    // A malformed key, chosen as a file: its text lands in the field, the server's message under it.
    const bad = join(scratch, 'broken.pub');
    await writeFile(bad, 'ssh-ed25519 AAAA!!not-base64 sam@laptop\n');
    await page.getByLabel('Choose a file…').setInputFiles(bad);
    await expect.poll(() => page.getByLabel('Your public key (optional)').inputValue()).toBe('ssh-ed25519 AAAA!!not-base64 sam@laptop'); // read asynchronously
    await page.getByRole('button', { name: 'Activate' }).click();
    expect(await textOf(page.locator('#public-key-error'))).toBe('SSH public key refused: the key data is not valid base64');
    expect(await page.getByLabel('Your public key (optional)').getAttribute('aria-invalid')).toBe('true');
    expect(await sshGrants()).toEqual([]);

    await page.getByLabel('Your public key (optional)').fill(publicKey);
    await page.locator('#public-key-error').waitFor({ state: 'detached' });
    await shot('activate-ssh-public-key');
    await page.getByRole('button', { name: 'Activate' }).click();

    const dialog = page.getByRole('dialog', { name: 'Your certificate is ready' });
    await dialog.getByText('This is the only time the certificate is shown.').waitFor();
    await dialog.getByRole('button', { name: 'Reveal certificate' }).click();
    await dialog.getByLabel('Certificate').waitFor();
    expect(await dialog.getByLabel('Private key').count()).toBe(0); // the person holds their own key
    expect(await textOf(dialog.getByTestId('credential-usage'))).toBe('How to use: ssh -i ~/.ssh/id_ed25519 -o CertificateFile=id_ed25519-cert.pub deploy@HOST');
    await shot('credential-dialog-ssh');

    const cert = await download(dialog.locator('.secret-field').filter({ has: page.getByLabel('Certificate') }), 'sam-cert.pub');
    expect(cert.name).toBe('id_ed25519-cert.pub');
    expect((await readFile(cert.file, 'utf8')).trim()).toBe(await dialog.getByLabel('Certificate').inputValue());
    const [grant] = (await samApi.get(`${T}/grants?mine=true&targetId=${sshTargetId}`)).body.items;
    const shown = await keygen(['-L', '-f', cert.file]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/Principals:\s*\n\s+deploy\s*\n\s+Critical/);
    expect(shown.stdout).toContain(`Key ID: "timebox:${grant.id}:${sam.email}"`);
    expect(/Valid: (.*)/.exec(shown.stdout)?.[1]?.trim()).toBe(`from ${sshTime(grant.startsAt)} to ${sshTime(grant.expiresAt)}`);
    expect(shown.stdout).toContain((await keygen(['-l', '-f', `${join(scratch, 'id_ed25519')}.pub`])).stdout.split(' ')[1]); // signs sam's key
    // Signed by the tenant's CA, as hosts fetch it.
    const caFile = join(scratch, 'ca.pub');
    await writeFile(caFile, await (await fetch(new URL(`${T}/ca/ssh`, server.url))).text());
    expect(shown.stdout).toContain((await keygen(['-l', '-f', caFile])).stdout.split(' ')[1]);

    await dialog.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('heading', { level: 1, name: 'Just-in-time accounts' }).waitFor();
  });

  it('without a public key shows a generated private key next to the certificate, once', async () => {
    await startSshRequest('CHG-82 hotfix from a borrowed laptop');
    await page.getByRole('button', { name: 'Activate' }).click();
    const dialog = page.getByRole('dialog', { name: 'Your certificate is ready' });
    await dialog.getByRole('button', { name: 'Reveal certificate' }).click();
    await dialog.getByText('This is the only time the certificate and its private key are shown.').waitFor();
    await dialog.getByText('chmod 600 id_ed25519').waitFor();
    await shot('credential-dialog-generated-key');

    const key = await download(dialog.locator('.secret-field').filter({ has: page.getByLabel('Private key') }), 'generated');
    expect(key.name).toBe('id_ed25519');
    await chmod(key.file, 0o600);
    const cert = await download(dialog.locator('.secret-field').filter({ has: page.getByLabel('Certificate') }), 'generated-cert.pub');
    expect(cert.name).toBe('id_ed25519-cert.pub');
    const keyPrint = await keygen(['-l', '-f', key.file]);
    expect(keyPrint.code, keyPrint.stderr).toBe(0);
    const shown = await keygen(['-L', '-f', cert.file]);
    expect(shown.stdout).toContain(`Public key: ED25519-CERT ${keyPrint.stdout.split(' ')[1]}`); // the pair belongs together
    expect(await textOf(dialog.getByTestId('credential-usage'))).toBe('How to use: ssh -i id_ed25519 -o CertificateFile=id_ed25519-cert.pub deploy@HOST');
    await dialog.getByRole('button', { name: 'Done' }).click();

    // Shown once: the server has nothing left to show.
    const grants = await sshGrants();
    expect(grants).toHaveLength(2);
    for (const g of grants) expect((await samApi.post(`${T}/grants/${g.id}/credential`)).status).toBe(409);
  });

  it('rotates the password from the menu: the new one logs in with psql, the old one is refused', async () => {
    const asked = await samApi.post(`${T}/requests`, { targetId: pgTargetId, entitlements: [target.readers], reason: 'INC-90 check orders', accountName: sam.account });
    expect(asked.body.state, JSON.stringify(asked.body)).toBe('active');
    const old = (await samApi.post(`${T}/grants/${asked.body.id}/credential`)).body.password as string;
    expect(await psql(target, sam.account, old, 'select count(*) from orders')).toMatchObject({ ok: true, stdout: '2' });

    await row(sam.account).getByText('Active').waitFor();
    await openMenu(sam.account);
    const rotate = page.getByRole('menuitem', { name: 'Rotate password' });
    expect(await rotate.getAttribute('aria-disabled')).toBeNull();
    expect(await page.getByRole('menuitem', { name: /^Delete/ }).getAttribute('title')).toBe('end the access first');
    await shot('jit-accounts-menu-rotate');
    await rotate.click();
    const confirm = page.getByRole('dialog', { name: `Rotate the password of ${sam.account}` });
    await confirm.getByText('The current password stops working at once.').waitFor();
    await confirm.getByRole('button', { name: 'Rotate password' }).click();

    const shown = page.getByRole('dialog', { name: `New password for ${sam.account}` });
    const fresh = await shown.getByLabel('Password').inputValue();
    expect(fresh.length).toBeGreaterThanOrEqual(16);
    expect(fresh).not.toBe(old);
    await shot('rotate-password-new');
    expect(await psql(target, sam.account, fresh, 'select count(*) from orders')).toMatchObject({ ok: true, stdout: '2' });
    expect((await psql(target, sam.account, old, 'select 1')).ok).toBe(false);
    await shown.getByRole('button', { name: 'Done' }).click();
    await row(sam.account).getByText('Active').waitFor();
  });

  it('deletes the account after "End now": a live grant is refused with the server’s message, then the row and the role are gone', async () => {
    await openMenu(sam.account);
    await page.getByRole('menuitem', { name: 'End now' }).click();
    const end = page.getByRole('dialog', { name: `End access of ${sam.account} now` });
    await end.getByRole('button', { name: 'End now' }).click();
    await row(sam.account).getByText('Revoked').waitFor();

    await openMenu(sam.account);
    expect(await page.getByRole('menuitem', { name: /^Rotate password/ }).getAttribute('title')).toBe('only while the account is enabled');
    await page.getByRole('menuitem', { name: 'Delete' }).click();
    const confirm = page.getByRole('dialog', { name: `Delete ${sam.account} on orders-db` });
    // Enabled again elsewhere (the CLI, another tab) while the question is open: the server says no.
    const [account] = (await samApi.get(`${T}/jit-accounts?mine=true`)).body.items.filter((a: { username: string }) => a.username === sam.account);
    const again = await samApi.post(`${T}/jit-accounts/${account.id}/enable`, { reason: 'INC-91 one more look' });
    expect(again.body.state).toBe('active');
    const byApi = await samApi.call('DELETE', `${T}/jit-accounts/${account.id}`);
    expect(byApi.status).toBe(409);
    await confirm.getByRole('button', { name: 'Delete account' }).click();
    await confirm.getByRole('alert').getByText(byApi.body.error.message).waitFor();
    await shot('delete-account-refused');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    expect(await roleExists(sam.account)).toBe(true);

    expect((await samApi.post(`${T}/grants/${again.body.id}/revoke`, { reason: 'done' })).body.state).toBe('revoked');
    await row(sam.account).getByText('Revoked').waitFor();
    await openMenu(sam.account);
    await page.getByRole('menuitem', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: `Delete ${sam.account} on orders-db` }).getByRole('button', { name: 'Delete account' }).click();
    await page.getByRole('status').getByText(`${sam.account} was deleted from orders-db.`).waitFor();
    await row(sam.account).waitFor({ state: 'detached' });
    expect(await roleExists(sam.account)).toBe(false);
    expect(problems).toEqual([]);
  });
});
