/**
 * `timebox login --sso`: sign in through the tenant's identity provider.
 *
 * Browser (as `gh auth login` and `tsh login` do): the CLI listens on 127.0.0.1 at a port the OS
 * picks, asks the server for the provider's URL, prints it (and opens a browser if it can). The
 * server redeems the provider's code itself — the client secret never leaves it — and sends the
 * browser back to the loopback with a one-time code, which the CLI trades for a session token
 * together with the PKCE verifier only it knows: a code seen on the way is useless to others.
 *
 * Device (`--device`): the server starts the provider's device authorization grant; the CLI shows
 * the code to enter elsewhere and polls the server, which redeems the device code.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiOf } from '../api-client.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { clean, note } from '../output.js';
import type { LoginResponse } from './auth.js';

const WAIT_MS = 5 * 60_000;

const page = (title: string, text: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body style="font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto"><h1>${title}</h1><p>${text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')}</p></body></html>`;

/** Best effort: a browser on this desktop, if there is one. */
function tryOpenBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : process.env.DISPLAY || process.env.WAYLAND_DISPLAY ? 'xdg-open' : null;
  if (!command) return;
  try {
    const child = spawn(command, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // no browser: the printed URL is enough
  }
}

async function browserLogin(server: string, tenant: string, openBrowser: boolean): Promise<LoginResponse> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const callbackPath = `/callback/${randomBytes(16).toString('base64url')}`;
  let settle: (r: { code: string } | { error: string }) => void = () => {};
  const answered = new Promise<{ code: string } | { error: string }>((resolve) => (settle = resolve));
  const loopback = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // Only the answer to this sign-in: any local process or web page can call a loopback port,
    // but only the server (through the browser) knows the path it was given.
    if (url.pathname !== callbackPath) {
      res.writeHead(404).end();
      return;
    }
    const code = url.searchParams.get('code');
    const error = url.searchParams.get('error_description') ?? url.searchParams.get('error');
    res.writeHead(code ? 200 : 400, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(code ? page('Signed in', 'You can close this tab and return to the terminal.') : page('Sign-in refused', error ?? 'no code in the answer'));
    settle(code ? { code } : { error: error ?? 'the answer carried no code' });
  });
  await new Promise<void>((resolve, reject) => {
    loopback.once('error', reject);
    loopback.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (loopback.address() as AddressInfo).port;
  const timer = setTimeout(() => settle({ error: 'no answer from the browser within 5 minutes' }), WAIT_MS);
  try {
    const { authorizationUrl } = await apiOf({ server }).call('ssoCliStart', {
      params: { tenant },
      body: { redirectUri: `http://127.0.0.1:${port}${callbackPath}`, codeChallenge: challenge },
    });
    note('Open this URL in a browser to sign in:');
    note(authorizationUrl);
    if (openBrowser) tryOpenBrowser(authorizationUrl);
    const result = await answered;
    if ('error' in result) throw new CliError(`single sign-on refused: ${clean(result.error)}`, ExitCode.auth);
    return await apiOf({ server }).call('ssoCliExchange', { body: { code: result.code, codeVerifier: verifier } });
  } finally {
    clearTimeout(timer);
    loopback.closeAllConnections();
    loopback.close();
  }
}

async function deviceLogin(server: string, tenant: string): Promise<LoginResponse> {
  const api = apiOf({ server });
  const d = await api.call('ssoDeviceStart', { params: { tenant } });
  // The provider's words, relayed by the server: shown, never obeyed by the terminal.
  note(`On any device, open ${clean(d.verificationUri)} and enter the code ${clean(d.userCode)}`);
  if (d.verificationUriComplete) note(`(or open ${clean(d.verificationUriComplete)})`);
  const deadline = Date.now() + d.expiresIn * 1000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, Math.max(1, d.interval) * 1000));
    const res = await api.call('ssoDevicePoll', { body: { handle: d.handle } });
    if (!('pending' in res)) return res;
  }
  throw new CliError('the device sign-in expired before it was approved; run timebox login --sso --device again', ExitCode.auth);
}

export function ssoLogin(opts: { server: string; tenant: string; device: boolean; openBrowser: boolean }): Promise<LoginResponse> {
  return opts.device ? deviceLogin(opts.server, opts.tenant) : browserLogin(opts.server, opts.tenant, opts.openBrowser);
}
