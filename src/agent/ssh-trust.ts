/**
 * Keeps sshd's certificate trust files current (opt-in: `sshTrust` in agent.json): the tenant's
 * KRL (sshd's RevokedKeys) and, when asked, its CA public keys (TrustedUserCAKeys, which lists a
 * retiring CA next to the new one during a rotation overlap). See docs/targets/ssh-certificates.md.
 *
 * The files come from the server's public per-tenant endpoints, the same bytes and ETags a host
 * without the agent fetches with curl: nothing here is secret, and a revoked agent still keeps
 * refusing revoked certificates. Refreshed on a timer and at once when a new desired state
 * arrives (the server bumps every agent of the tenant when its SSH trust changes). Conditional
 * GETs make an unchanged list cost a 304. A download replaces a file only after ssh-keygen has
 * read it (temp file in the same directory, fsync, rename): sshd never sees half a file or a
 * damaged one, and an unreachable server never removes the last good files.
 */
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { run } from './host/exec.js';
import { errorMessage, httpRequest } from './http-client.js';
import { jitteredBackoff } from './http-source.js';

const filePath = z
  .string()
  .max(4096)
  .refine((p) => path.isAbsolute(p) && path.normalize(p) === p && !p.endsWith('/') && !/[\0\n\r]/.test(p), {
    error: 'must be an absolute file path (normalised, no trailing "/")',
  });

export const SshTrustSettingsSchema = z
  .strictObject({
    /** sshd's `RevokedKeys` file: the tenant's KRL. */
    revokedKeysFile: filePath,
    /** sshd's `TrustedUserCAKeys` file: the tenant's published SSH CA keys (not maintained when absent). */
    trustedCaKeysFile: filePath.optional(),
    /** Refresh interval; a change on the server is fetched at once anyway. */
    refreshSeconds: z.int().min(5).max(86_400).default(60),
  })
  .refine((s) => s.revokedKeysFile !== s.trustedCaKeysFile, { error: 'must differ from revokedKeysFile', path: ['trustedCaKeysFile'] });
export type SshTrustSettings = z.infer<typeof SshTrustSettingsSchema>;

export type RefreshReason = 'start' | 'timer' | 'server signal' | 'retry';
type Outcome = 'updated' | 'unchanged' | 'not published';

interface TrustFile {
  what: 'KRL' | 'TrustedUserCAKeys';
  file: string;
  /** After `/api/v1/tenants/<tenant>/ca/ssh`. */
  suffix: string;
  accept: string;
  /** Throws when the downloaded temp file must not replace the current one. */
  check(tmp: string, bytes: Buffer): Promise<void>;
}

/** Public key lines as Timebox publishes them (no options: TrustedUserCAKeys takes plain keys). */
const KEY_LINE_RE =
  /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}(?: [\x20-\x7e]*)?$/;

const why = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** `ssh-keygen -Q -l` parses the whole KRL: a truncated or foreign file is refused. */
export async function checkKrl(tmp: string): Promise<void> {
  try {
    await run('ssh-keygen', ['-Q', '-l', '-f', tmp]);
  } catch (err) {
    throw new Error(`the downloaded KRL is damaged, the previous file is kept: ${why(err)}`);
  }
}

/** Every line must be a public key ssh-keygen can fingerprint (it silently skips bad lines, so they are counted). */
export async function checkCaKeys(tmp: string, bytes: Buffer): Promise<void> {
  const lines = bytes.toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  const refuse = (what: string) => new Error(`the downloaded CA keys are unusable (${what}), the previous file is kept`);
  if (lines.length === 0) throw refuse('no key');
  if (!lines.every((l) => KEY_LINE_RE.test(l))) throw refuse('a line is not an SSH public key');
  let printed: number;
  try {
    printed = (await run('ssh-keygen', ['-l', '-f', tmp])).stdout.split('\n').filter(Boolean).length;
  } catch (err) {
    throw refuse(why(err));
  }
  if (printed !== lines.length) throw refuse(`ssh-keygen read ${printed} of ${lines.length} keys`);
}

/** Writes `bytes` next to `file` (0644), lets `check` read it, then renames it over `file` and fsyncs the directory. */
export async function replaceFileChecked(file: string, bytes: Buffer, check: (tmp: string, bytes: Buffer) => Promise<void>): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.timebox-new`);
  // A leftover of a crash goes first; 'wx' then never follows a link someone planted there.
  await rm(tmp, { force: true });
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(bytes);
    await fh.chmod(0o644); // whatever the umask: sshd reads it, everyone may
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await check(tmp, bytes);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** Identity of a file on disk: a changed or deleted file is fetched in full even if the server's list did not change. */
async function fileKey(file: string): Promise<string | null> {
  try {
    const st = await stat(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export interface SshTrustOptions {
  settings: SshTrustSettings;
  /** The server the agent is enrolled with, and its tenant (slug). */
  server: URL;
  tenant: string;
  caPem?: string;
  log: Logger;
  /** Longest wait between attempts while the server is unreachable (default 30 s). */
  backoffMaxMs?: number;
}

export class SshTrustSync {
  private readonly files: TrustFile[];
  private readonly seen = new Map<string, { etag: string | undefined; written: string | null }>();
  private kicked = false;
  private wake: (() => void) | null = null;
  private nothingPublished = false;

  constructor(private readonly opts: SshTrustOptions) {
    const s = opts.settings;
    this.files = [
      { what: 'KRL', file: s.revokedKeysFile, suffix: '/krl', accept: 'application/octet-stream', check: (tmp) => checkKrl(tmp) },
      ...(s.trustedCaKeysFile
        ? [{ what: 'TrustedUserCAKeys' as const, file: s.trustedCaKeysFile, suffix: '', accept: 'text/plain', check: checkCaKeys }]
        : []),
    ];
  }

  /** Something may have changed on the server (a new desired state arrived): refresh now. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** Refreshes until `signal` aborts: at start, every `refreshSeconds`, on `kick`, and with backoff after failures. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let reason: RefreshReason = 'start';
    while (!signal.aborted) {
      this.kicked = false;
      let waitMs: number;
      try {
        await this.refresh(reason, signal);
        if (failures > 0) this.opts.log.info('SSH trust files refreshed again');
        failures = 0;
        waitMs = this.opts.settings.refreshSeconds * 1000;
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        waitMs = jitteredBackoff(failures, this.opts.backoffMaxMs ?? 30_000);
        this.opts.log.warn({ err: why(err), retryInMs: waitMs }, 'SSH trust files not refreshed; sshd keeps using the last good ones');
      }
      if (!this.kicked) await this.sleep(waitMs, signal);
      reason = this.kicked ? 'server signal' : failures > 0 ? 'retry' : 'timer';
    }
  }

  /** One pass over the files; every file is tried, then the first failure is thrown. */
  async refresh(reason: RefreshReason, signal?: AbortSignal): Promise<Record<string, Outcome>> {
    const out: Record<string, Outcome> = {};
    const errors: string[] = [];
    for (const f of this.files) {
      try {
        out[f.what] = await this.refreshFile(f, signal);
        if (out[f.what] === 'updated') this.opts.log.info({ file: f.file, what: f.what, reason }, 'SSH trust file updated');
      } catch (err) {
        errors.push(`${f.what} (${f.file}): ${why(err)}`);
      }
    }
    const none = Object.values(out).includes('not published');
    if (none && !this.nothingPublished) {
      this.opts.log.warn({ tenant: this.opts.tenant }, 'the server publishes no SSH CA for this tenant yet; the trust files are left as they are');
    }
    this.nothingPublished = none;
    if (errors.length) throw new Error(errors.join('; '));
    return out;
  }

  private async refreshFile(f: TrustFile, signal?: AbortSignal): Promise<Outcome> {
    const base = this.opts.server.pathname.replace(/\/+$/, '');
    const url = new URL(`${base}/api/v1/tenants/${encodeURIComponent(this.opts.tenant)}/ca/ssh${f.suffix}`, this.opts.server.origin);
    const onDisk = await fileKey(f.file);
    const known = this.seen.get(f.file);
    const conditional = known?.etag !== undefined && onDisk !== null && onDisk === known.written;
    const headers: Record<string, string> = { accept: f.accept, ...(conditional ? { 'if-none-match': known.etag! } : {}) };
    const r = await httpRequest(url, 'GET', headers, undefined, { signal, timeoutMs: 30_000, caPem: this.opts.caPem });
    if (r.status === 304 && conditional) return 'unchanged';
    // The tenant has no SSH CA yet: nothing to trust or revoke; the files stay as they are.
    if (r.status === 404) return 'not published';
    if (r.status !== 200) throw new Error(`${url.pathname}: ${r.status} ${errorMessage(r)}`);
    const etag = typeof r.headers.etag === 'string' ? r.headers.etag : undefined;
    const current = onDisk === null ? null : await readFile(f.file).catch(() => null);
    if (current?.equals(r.bytes)) {
      this.seen.set(f.file, { etag, written: onDisk });
      return 'unchanged';
    }
    await replaceFileChecked(f.file, r.bytes, f.check);
    this.seen.set(f.file, { etag, written: await fileKey(f.file) });
    return 'updated';
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }
}
