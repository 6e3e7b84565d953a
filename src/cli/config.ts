/**
 * The CLI's sign-in state: `{ server, token, email, tenant? }` in `$TIMEBOX_CONFIG` or
 * `~/.config/timebox/cli.json`. The file holds a session token, so it is created 0600 (temp file
 * + rename, never a half-written or briefly world-readable file). `TIMEBOX_SERVER` and
 * `TIMEBOX_TOKEN` override what the file says.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CliError, ExitCode } from './exit-codes.js';

const fileSchema = z.object({
  server: z.string().optional(),
  token: z.string().optional(),
  email: z.string().optional(),
  tenant: z.string().optional(),
});
export type CliConfig = z.infer<typeof fileSchema>;

export interface Connection {
  server: string;
  token: string;
  email?: string;
  tenant?: string;
}

type Env = Record<string, string | undefined>;

export function configPath(env: Env = process.env): string {
  return env.TIMEBOX_CONFIG || path.join(homedir(), '.config', 'timebox', 'cli.json');
}

export async function readConfig(env: Env = process.env): Promise<CliConfig> {
  const file = configPath(env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${file} is not valid JSON; delete it and run timebox login again`);
  }
  const result = fileSchema.safeParse(parsed);
  if (!result.success) throw new CliError(`${file} is not a timebox CLI configuration; delete it and run timebox login again`);
  return result.data;
}

/** Replaces the file atomically; it is never readable by anyone but its owner. */
export async function writeConfig(config: CliConfig, env: Env = process.env): Promise<string> {
  const file = configPath(env);
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(temp, 0o600); // in case of an unusual umask
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw new CliError(`cannot write ${file}: ${(err as Error).message}`);
  }
  return file;
}

/** Trailing slashes off, and only http(s): a typo is caught here, not as a confusing fetch error. */
export function normalizeServer(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`invalid server URL ${JSON.stringify(url)}; use e.g. http://localhost:8420`, ExitCode.usage);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CliError(`invalid server URL ${JSON.stringify(url)}; it must start with http:// or https://`, ExitCode.usage);
  }
  // The API's own path given as the server (…/api/v1, copied from a docs example): the server is above it.
  return url.replace(/\/+$/, '').replace(/\/api(\/v1)?$/, '');
}

/** Where to send requests and with which token; a clear "sign in first" otherwise. */
export async function loadConnection(env: Env = process.env): Promise<Connection> {
  const file = await readConfig(env);
  const server = env.TIMEBOX_SERVER || file.server;
  const token = env.TIMEBOX_TOKEN || file.token;
  if (!server || !token) {
    throw new CliError('not signed in; run: timebox login --server URL --email EMAIL (or set TIMEBOX_SERVER and TIMEBOX_TOKEN)', ExitCode.auth);
  }
  // The tenant remembered in the file belongs to the file's server only.
  const sameServer = !env.TIMEBOX_SERVER || env.TIMEBOX_SERVER === file.server;
  return {
    server: normalizeServer(server),
    token,
    email: env.TIMEBOX_TOKEN ? undefined : file.email,
    tenant: sameServer ? file.tenant : undefined,
  };
}
