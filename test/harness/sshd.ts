/**
 * A real OpenSSH server for tests, isolated from the host: it runs in a private mount namespace
 * (`unshare --mount --propagation private`) where /etc is an overlay whose writes land in a temp
 * directory, and /run, /home and /var/log are fresh tmpfs mounts. Test users are created with the
 * real useradd/chpasswd inside that namespace, PAM is on as on a real host, and the host's
 * /etc/passwd, /home and logs never see any of it. sshd listens on 127.0.0.1:<free port> with its
 * own config and host key.
 *
 * Needs root (mount namespaces, overlayfs), openssh-server, and util-linux (unshare, nsenter).
 * Every command is an execFile argv; the only `sh -c` script is a constant that receives paths
 * as positional arguments.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface SshdUser {
  name: string;
  /** Set with chpasswd inside the namespace; without one the account has no usable password. */
  password?: string;
  shell?: string;
}

export interface SshdOptions {
  users?: Array<string | SshdUser>;
  /** Content of the TrustedUserCAKeys file (one CA public key per line). */
  trustedUserCaKeys?: string;
  /** Path of the RevokedKeys file (a KRL); the test rewrites it, sshd reads it per connection. */
  revokedKeysFile?: string;
  /** sshd's AuthorizedPrincipalsFile value, e.g. '/etc/ssh/auth_principals/%u' (inside the namespace). */
  authorizedPrincipalsFile?: string;
  /** Default false: certificate and key logins only. */
  passwordAuthentication?: boolean;
  /** Extra sshd_config lines, for what the options above do not cover. */
  extraConfig?: string[];
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Sshd {
  host: '127.0.0.1';
  port: number;
  /** Runs an argv inside the namespace (sees the overlay /etc and test users), as root. */
  exec(argv: string[], opts?: { input?: string }): Promise<ExecResult>;
  /** Rewrites the TrustedUserCAKeys file (sshd reads it per authentication). */
  setTrustedUserCaKeys(content: string): Promise<void>;
  /** sshd's log so far (LogLevel VERBOSE): accepted certificate ids, refusal reasons. */
  log(): string;
  stop(): Promise<void>;
}

/** Constant script: $1 upper, $2 work, $3 sshd binary, $4 sshd_config. */
const NAMESPACE_SCRIPT = [
  'set -e',
  'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc',
  // sshd needs /run/sshd; useradd -m writes /home and lastlog/faillog under /var/log.
  'for d in /run /home /var/log; do mount -t tmpfs -o mode=0755 tmpfs "$d"; done',
  'mkdir -m 0755 /run/sshd',
  'exec "$3" -D -e -f "$4"',
].join('\n');

function binary(name: string): string {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  throw new Error(`${name} not found (Debian: apt-get install -y --no-install-recommends openssh-server openssh-client sshpass)`);
}

export function runArgv(
  file: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 4 * 1024 * 1024, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 255) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    // A command that exits without reading its input closes the pipe: that EPIPE is not a failure.
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** PerSourcePenalties (OpenSSH ≥ 9.8) would throttle a test's deliberate failed logins from 127.0.0.1. */
async function hasPerSourcePenalties(): Promise<boolean> {
  const { stderr } = await runArgv(binary('ssh'), ['-V']);
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(stderr);
  return !!m && (Number(m[1]) > 9 || (Number(m[1]) === 9 && Number(m[2]) >= 8));
}

/** sshds still running when the process exits (a crashed run) are killed and their dirs removed. */
const live = new Map<number, string>();
let exitHookInstalled = false;
function forgetOnExit(pid: number, dir: string) {
  live.set(pid, dir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [p, d] of live) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
      rmSync(d, { recursive: true, force: true });
    }
  });
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  if (process.getuid?.() !== 0) throw new Error('the sshd harness needs root (mount namespace + overlayfs)');
  const sshd = binary('sshd');
  const nsenter = binary('nsenter');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'timebox-sshd-'));
  await chmod(dir, 0o700);
  // overlayfs splits its options on ',' and ':'.
  if (/[,:]/.test(dir)) throw new Error(`temp dir ${dir} contains ',' or ':' which overlayfs options cannot carry`);
  try {
    const upper = path.join(dir, 'upper');
    const work = path.join(dir, 'work');
    await mkdir(upper);
    await mkdir(work);
    const hostKey = path.join(dir, 'ssh_host_ed25519_key');
    const keygen = await runArgv(binary('ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    if (keygen.code !== 0) throw new Error(`ssh-keygen (host key) failed: ${keygen.stderr}`);
    const trustedFile = path.join(dir, 'trusted_user_ca_keys');
    if (opts.trustedUserCaKeys !== undefined) await writeFile(trustedFile, opts.trustedUserCaKeys, { mode: 0o644 });
    const penalties = await hasPerSourcePenalties();

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const config = [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        'PidFile none',
        'UsePAM yes',
        `PasswordAuthentication ${opts.passwordAuthentication ? 'yes' : 'no'}`,
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        // Only certificates (and nothing from users' ~/.ssh) unless a test adds keys explicitly.
        'AuthorizedKeysFile none',
        ...(opts.trustedUserCaKeys !== undefined ? [`TrustedUserCAKeys ${trustedFile}`] : []),
        ...(opts.revokedKeysFile ? [`RevokedKeys ${opts.revokedKeysFile}`] : []),
        ...(opts.authorizedPrincipalsFile ? [`AuthorizedPrincipalsFile ${opts.authorizedPrincipalsFile}`] : []),
        'PrintMotd no',
        'PrintLastLog no',
        'MaxStartups 100',
        'LogLevel VERBOSE',
        ...(penalties ? ['PerSourcePenalties no'] : []),
        ...(opts.extraConfig ?? []),
      ].join('\n');
      const configFile = path.join(dir, 'sshd_config');
      await writeFile(configFile, `${config}\n`, { mode: 0o600 });

      // unshare (no --fork) execs sh, which execs sshd: the child's pid is sshd's and holds the namespace.
      const child = spawn(
        binary('unshare'),
        ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', NAMESPACE_SCRIPT, 'sh', upper, work, sshd, configFile],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let log = '';
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => {
        log += d;
      });
      const ready = await waitListening(child, () => log, port);
      if (!ready) {
        await terminate(child);
        // Another process may have taken the free port between our check and sshd's bind.
        if (/Bind to port|Address already in use/.test(log) && attempt < 3) continue;
        throw new Error(`sshd did not start:\n${log.slice(-3000)}`);
      }
      forgetOnExit(child.pid!, dir);

      const exec = (argv: string[], o: { input?: string } = {}) =>
        runArgv(nsenter, ['--target', String(child.pid), '--mount', '--', ...argv], o.input !== undefined ? { input: o.input } : {});
      for (const u of opts.users ?? []) {
        const user = typeof u === 'string' ? { name: u } : u;
        const add = await exec(['useradd', '-m', '-s', user.shell ?? '/bin/sh', user.name]);
        if (add.code !== 0) throw new Error(`useradd ${user.name} failed: ${add.stderr}`);
        if (user.password !== undefined) {
          const pw = await exec(['chpasswd'], { input: `${user.name}:${user.password}\n` });
          if (pw.code !== 0) throw new Error(`chpasswd ${user.name} failed: ${pw.stderr}`);
        }
      }

      return {
        host: '127.0.0.1',
        port,
        exec,
        async setTrustedUserCaKeys(content: string) {
          const tmp = `${trustedFile}.new`;
          await writeFile(tmp, content, { mode: 0o644 });
          await rename(tmp, trustedFile); // atomic: sshd never reads half a file
        },
        log: () => log,
        async stop() {
          await terminate(child);
          live.delete(child.pid!);
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function waitListening(child: ChildProcess, log: () => string, port: number): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (log().includes(`Server listening on 127.0.0.1 port ${port}`)) return true;
    if (child.exitCode !== null || child.signalCode !== null) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

export interface SshLogin {
  port: number;
  user: string;
  /** The remote command; ssh hands it to the user's login shell, so pass fixed words only. */
  command: string[];
  identityFile?: string;
  certificateFile?: string;
  /** Password login through sshpass (the password travels in the environment, not argv). */
  password?: string;
  timeoutMs?: number;
}

/**
 * The system OpenSSH client (the npm ssh2 client cannot present certificates), with no config
 * files, no agent and no known_hosts: only the identity and certificate given are offered.
 */
export async function sshLogin(o: SshLogin): Promise<ExecResult> {
  const common = [
    '-F', 'none',
    '-p', String(o.port),
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    '-o', 'ConnectTimeout=10',
  ];
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), LC_ALL: 'C' };
  const target = [`${o.user}@127.0.0.1`, '--', ...o.command];
  if (o.password !== undefined) {
    const args = ['-e', binary('ssh'), ...common, '-o', 'BatchMode=no', '-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password,keyboard-interactive', ...target];
    return runArgv(binary('sshpass'), args, { env: { ...env, SSHPASS: o.password }, timeoutMs: o.timeoutMs ?? 20_000 });
  }
  const args = [
    ...common,
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'PreferredAuthentications=publickey',
    ...(o.identityFile ? ['-i', o.identityFile] : []),
    ...(o.certificateFile ? ['-o', `CertificateFile=${o.certificateFile}`] : []),
    ...target,
  ];
  return runArgv(binary('ssh'), args, { env, timeoutMs: o.timeoutMs ?? 20_000 });
}
