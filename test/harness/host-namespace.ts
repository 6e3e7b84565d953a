/**
 * A throwaway "host" for tests of code that changes a real Linux machine (accounts, sudoers,
 * sessions): a private mount namespace with overlays over /etc and /var and fresh tmpfs on /home
 * and /run, plus a private PID namespace. Inside, useradd, chpasswd, sudo, sshd and pkill are the
 * real tools on real files; the host sees none of it, and killing the namespace's init ends every
 * process started inside. The PID namespace matters: uids created inside may equal real uids
 * outside, and `pkill -u` inside must not reach the host's processes.
 *
 * Needs root (CAP_SYS_ADMIN) and util-linux `unshare`/`nsenter`; sshd is optional per test.
 * Every command is an argv array.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface NsExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface NsSshd {
  port: number;
  /** sshd's log so far (stderr with -e), for failure messages. */
  log(): string;
}

/** Certificate logins besides passwords: sshd reads both files (paths inside the namespace) per authentication. */
export interface NsSshdOptions {
  /** sshd's TrustedUserCAKeys. */
  trustedUserCaKeysFile?: string;
  /** sshd's RevokedKeys (a KRL; when it is missing sshd refuses every key login). */
  revokedKeysFile?: string;
  /** Serve the sftp subsystem (OpenSSH's sftp-server). */
  sftp?: boolean;
}

export interface HostNamespace {
  /** The namespace's init, as the host sees it. */
  initPid: number;
  /** Runs a command inside and waits; never throws on a non-zero exit. */
  exec(argv: string[], opts?: { input?: string; timeoutMs?: number }): Promise<NsExecResult>;
  /** Starts a long-running command inside (stdout/stderr piped). */
  spawn(argv: string[], opts?: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: boolean }): ChildProcess;
  /** The host pid of the process `nsenter` started for `child` (to kill -9 it from outside). */
  innerPid(child: ChildProcess): Promise<number>;
  /** sshd on 127.0.0.1:<free port>, password logins through PAM (and certificates if asked), running inside. */
  startSshd(opts?: NsSshdOptions): Promise<NsSshd>;
  destroy(): Promise<void>;
}

const run = (file: string, args: string[], input?: string, timeoutMs = 30_000) =>
  new Promise<NsExecResult>((resolve) => {
    const child = execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin?.on('error', () => {}); // EPIPE when the command exits without reading: the exit code tells
    child.stdin?.end(input ?? '');
  });

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

export async function createHostNamespace(): Promise<HostNamespace> {
  for (const tool of ['unshare', 'nsenter']) {
    if (!['/usr/bin', '/bin'].some((d) => existsSync(path.join(d, tool)))) throw new Error(`${tool} (util-linux) is required`);
  }
  if (process.getuid?.() !== 0) throw new Error('host-namespace tests need root (mount and PID namespaces)');
  const base = await mkdtemp(path.join(os.tmpdir(), 'tb-hostns-'));
  for (const d of ['etc-up', 'etc-work', 'var-up', 'var-work', 'ssh']) await mkdir(path.join(base, d));
  const holder = spawn(
    'unshare',
    ['--mount', '--pid', '--fork', '--mount-proc', '--propagation', 'private', '--kill-child', '--', 'sleep', 'infinity'],
    { stdio: 'ignore' },
  );
  const initPid = await waitFor('the namespace init', 5_000, async () => (await childrenOf(holder.pid!))[0] ?? null);
  const enter = ['-t', String(initPid), '-m', '-p', '--'];
  const exec: HostNamespace['exec'] = (argv, opts = {}) => run('nsenter', [...enter, ...argv], opts.input, opts.timeoutMs);
  const must = async (argv: string[]) => {
    const r = await exec(argv);
    if (r.code !== 0) throw new Error(`${argv.join(' ')} failed in the namespace: ${r.stderr || r.stdout}`);
  };
  const children: ChildProcess[] = [];
  const destroy = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    try {
      process.kill(initPid, 'SIGKILL'); // ends every process in the PID namespace
    } catch {
      // already gone
    }
    if (holder.exitCode === null && holder.signalCode === null) {
      await new Promise((r) => holder.once('exit', r));
    }
    await rm(base, { recursive: true, force: true, maxRetries: 5 });
  };
  try {
    // Overlays, not bind mounts: shadow-utils replace /etc/passwd & co. by rename.
    await must(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=/etc,upperdir=${base}/etc-up,workdir=${base}/etc-work`, '/etc']);
    // /var holds lastlog, faillog, mail spools and sudo's lecture files.
    await must(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=/var,upperdir=${base}/var-up,workdir=${base}/var-work`, '/var']);
    await must(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', '/home']);
    await must(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', '/run']);
    await must(['mkdir', '-m', '0755', '/run/sshd']);
  } catch (err) {
    await destroy();
    throw err;
  }

  const spawnInside: HostNamespace['spawn'] = (argv, opts = {}) => {
    const stdio = [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] as const;
    // nsenter starts the command in the target's root unless told otherwise (--wd).
    const wd = opts.cwd ? [`--wd=${opts.cwd}`] : [];
    const child = spawn('nsenter', [...wd, ...enter, ...argv], { stdio: [...stdio], env: opts.env ?? process.env });
    children.push(child);
    return child;
  };

  const startSshd = async (opts: NsSshdOptions = {}): Promise<NsSshd> => {
    const sshd = '/usr/sbin/sshd';
    if (!existsSync(sshd)) throw new Error('sshd is required: apt-get install -y --no-install-recommends openssh-server sshpass');
    const dir = path.join(base, 'ssh');
    const key = path.join(dir, `host_ed25519_${children.length}`);
    const gen = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    if (gen.code !== 0) throw new Error(`ssh-keygen failed: ${gen.stderr}`);
    const port = await freePort();
    const config = path.join(dir, `sshd_config_${port}`);
    await writeFile(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${key}`,
        `PidFile ${dir}/sshd_${port}.pid`,
        'UsePAM yes',
        'PasswordAuthentication yes',
        'KbdInteractiveAuthentication no',
        ...(opts.trustedUserCaKeysFile
          ? ['PubkeyAuthentication yes', 'AuthorizedKeysFile none', `TrustedUserCAKeys ${opts.trustedUserCaKeysFile}`]
          : ['PubkeyAuthentication no']),
        ...(opts.revokedKeysFile ? [`RevokedKeys ${opts.revokedKeysFile}`] : []),
        ...(opts.sftp ? ['Subsystem sftp /usr/lib/openssh/sftp-server'] : []),
        'PermitRootLogin no',
        'MaxStartups 50',
        'LoginGraceTime 20',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    let log = '';
    const child = spawnInside([sshd, '-D', '-e', '-f', config]);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
    await waitFor(`sshd on port ${port}`, 10_000, async () => {
      if (child.exitCode !== null) throw new Error(`sshd exited: ${log}`);
      return (await portOpen(port)) ? true : null;
    });
    return { port, log: () => log };
  };

  const innerPid = (child: ChildProcess) =>
    waitFor('the process nsenter started', 5_000, async () => (await childrenOf(child.pid!))[0] ?? null);

  return { initPid, exec, spawn: spawnInside, innerPid, startSshd, destroy };
}

/** argv for a password SSH login from the host side (the password goes via SSHPASS, not argv). */
export function sshCommand(port: number, user: string, command: string[]): string[] {
  return [
    'sshpass', '-e', 'ssh', '-p', String(port),
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
    '-o', 'PreferredAuthentications=password', '-o', 'PubkeyAuthentication=no', '-o', 'NumberOfPasswordPrompts=1',
    '-o', 'ConnectTimeout=10', `${user}@127.0.0.1`, '--', ...command,
  ];
}
