/**
 * Helpers for the agent tests: the agent as a process inside the test namespace, LinuxHost over a
 * pipe (host-worker), desired-state files, the journal, and SSH from the host side.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { AgentConfigInput } from '../../src/agent/config.js';
import type { HostOperations } from '../../src/agent/host/host-operations.js';
import type { GrantSpecInput, JournalEntry } from '../../src/agent-wire/protocol.js';
import type { HostNamespace } from '../harness/host-namespace.js';
import { sshCommand } from '../harness/host-namespace.js';
import { encodeDates, reviveDates } from './fixtures/date-json.js';
import { waitUntil } from '../support/wait-until.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
const tsScript = (name: string) => [process.execPath, '--import', 'tsx', path.join(here, 'fixtures', name)];

export const iso = (ms: number) => new Date(ms).toISOString();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export { waitUntil };

export async function makeStateDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'tb-agent-state-')); // 0700, as the agent requires
}

/** Writes a desired state the way a careful writer would: whole file, 0600, atomic rename. */
export async function writeDesiredState(file: string, version: number, grants: GrantSpecInput[] | unknown[]): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify({ schemaVersion: 1, version, issuedAt: new Date().toISOString(), grants }), { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

export async function readJournal(stateDir: string): Promise<JournalEntry[]> {
  const text = await readFile(path.join(stateDir, 'journal.jsonl'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as JournalEntry);
}

export function waitForJournal(stateDir: string, what: string, timeoutMs: number, pred: (e: JournalEntry) => boolean): Promise<JournalEntry> {
  return waitUntil(`journal entry: ${what}`, timeoutMs, async () => (await readJournal(stateDir)).find(pred));
}

export interface AgentProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill9(): Promise<void>;
}

export function startAgentProcess(
  ns: HostNamespace,
  opts: { stateDir: string; scheduleFile?: string; configFile?: string; crash?: string },
): AgentProcess {
  const args = ['--state-dir', opts.stateDir];
  if (opts.scheduleFile) args.push('--schedule-file', opts.scheduleFile);
  if (opts.configFile) args.push('--config', opts.configFile);
  const env: NodeJS.ProcessEnv = { ...process.env, TIMEBOX_TEST_CRASH: opts.crash ?? '' };
  const child = ns.spawn([...tsScript('agent-entry.ts'), ...args], { env, cwd: repoRoot });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const kill9 = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(await ns.innerPid(child), 'SIGKILL');
    await exited;
  };
  return { child, output: () => out, exited, kill9 };
}

/**
 * Starts the agent on an empty desired state (version 1) and waits until it has read it, so a
 * test can then write its grants (version 2+) with times measured from a running agent rather
 * than from a process that is still starting on a busy machine.
 */
export async function startReadyAgent(
  ns: HostNamespace,
  opts: { stateDir: string; scheduleFile: string; configFile?: string; crash?: string },
): Promise<AgentProcess> {
  await writeDesiredState(opts.scheduleFile, 1, []);
  const agent = startAgentProcess(ns, opts);
  await waitUntil('the agent read its first desired state', 30_000, async () => {
    if (agent.child.exitCode !== null) throw new Error(`the agent exited: ${agent.output()}`);
    return agent.output().includes('"msg":"desired state received"');
  });
  return agent;
}

export type WorkerHost = HostOperations & { close(): Promise<void> };

/** LinuxHost inside the namespace, called from the test as if it were local. */
export async function startHostWorker(ns: HostNamespace, options: { powerUsersGroup?: string } = {}): Promise<WorkerHost> {
  const child = ns.spawn([...tsScript('host-worker.ts'), JSON.stringify(options)], { stdin: true, cwd: repoRoot });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line, reviveDates) as { id: number; value?: unknown; error?: { message: string; errorClass: string | null } };
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) p?.reject(Object.assign(new Error(msg.error.message), { errorClass: msg.error.errorClass }));
    else p?.resolve(msg.value);
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
    for (const p of pending.values()) p.reject(new Error(`host worker exited: ${stderr}`));
  });
  let nextId = 1;
  const call = (method: string, args: unknown[]) =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error(`host worker exited: ${stderr}`));
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.stdin!.write(`${JSON.stringify({ id, method, args }, encodeDates)}\n`);
    });
  const close = async () => {
    child.stdin!.end();
    if (child.exitCode === null) await once(child, 'exit');
  };
  return new Proxy({} as WorkerHost, {
    get: (_t, prop) => (prop === 'close' ? close : prop === 'then' ? undefined : (...args: unknown[]) => call(String(prop), args)),
  });
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A password login over SSH from the host side: the password travels in SSHPASS, not argv. */
export function sshRun(port: number, user: string, password: string, command: string[], timeoutMs = 20_000): Promise<CommandResult> {
  const [file, ...args] = sshCommand(port, user, command);
  return new Promise((resolve) => {
    execFile(file!, args, { env: { ...process.env, SSHPASS: password }, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export function sshSpawn(port: number, user: string, password: string, command: string[]): ChildProcess {
  const [file, ...args] = sshCommand(port, user, command);
  return spawn(file!, args, { env: { ...process.env, SSHPASS: password }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Names from the real host's /etc/passwd (read from outside the namespace). */
export async function hostUsers(): Promise<Set<string>> {
  const text = await readFile('/etc/passwd', 'utf8');
  return new Set(text.split('\n').map((l) => l.split(':')[0]!).filter(Boolean));
}

/** The agent's config file (it may hold the SMTP password: 0600, as the agent insists). */
export async function writeAgentConfig(dir: string, config: AgentConfigInput): Promise<string> {
  const file = path.join(dir, 'agent.json');
  await writeFile(file, JSON.stringify(config), { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}
