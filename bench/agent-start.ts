/**
 * The endpoint agent's footprint: milliseconds from process start to enforcing (the log line
 * after the local schedule is running) and its RSS then, for each way of starting it. Runs an
 * unenrolled agent on an empty state directory: nothing on the host changes.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cpuTimeMs } from './process-cpu.js';
import { percentile } from './stats.js';

export interface AgentStartSample {
  how: string;
  startMs: number;
  /** CPU time (user + system) until enforcing. */
  cpuMs: number;
  rssMb: number;
}

/** Logged once the enforcer runs and no source is configured: the agent is enforcing. */
const READY = 'only the local schedule is enforced';

/** One start of `argv` (node arguments after the node binary, ending with agent `run` options). */
async function startOnce(argv: string[], cwd: string): Promise<{ startMs: number; cpuMs: number; rssMb: number }> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'tb-agent-start-'));
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...argv, '--state-dir', stateDir], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    const startMs = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the agent did not start within 60 s: ${out.slice(-500)}`)), 60_000);
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes(READY)) {
          clearTimeout(timer);
          resolve(performance.now() - spawnedAt);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`the agent exited (${code}) before it was ready: ${out.slice(-500)}`)));
    });
    const cpuMs = await cpuTimeMs(child.pid!);
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
    const rssMb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
    return { startMs, cpuMs, rssMb };
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** Medians of `runs` starts for each way; the first start of each is a warm-up (file cache). */
export async function measureAgentStart(ways: { how: string; argv: string[]; cwd: string }[], runs: number): Promise<AgentStartSample[]> {
  const out: AgentStartSample[] = [];
  for (const w of ways) {
    await startOnce(w.argv, w.cwd);
    const samples = [];
    for (let i = 0; i < runs; i++) samples.push(await startOnce(w.argv, w.cwd));
    out.push({ how: w.how, startMs: median(samples.map((s) => s.startMs)), cpuMs: median(samples.map((s) => s.cpuMs)), rssMb: median(samples.map((s) => s.rssMb)) });
  }
  return out;
}

const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);
