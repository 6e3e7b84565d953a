/**
 * `timebox gateway` as a process of its own, for tests and the benchmark: started on a port, ready
 * when it says it listens, stopped politely or killed with -9. Tests pass the compiled CLI; without
 * it (the benchmark, outside vitest) it runs the source through tsx.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface GatewayProcess {
  child: ChildProcess;
  port: number;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Its resident memory now, in MB. */
  rssMb(): Promise<number>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/** `mainJs`: the compiled CLI (`cli/main.js`) to run instead of the source. */
export async function startGatewayProcess(env: Record<string, string>, port: number, opts: { mainJs?: string; readyTimeoutMs?: number } = {}): Promise<GatewayProcess> {
  const { mainJs, readyTimeoutMs = 120_000 } = opts;
  const child = spawn(process.execPath, [...(mainJs ? [mainJs] : ['--import', 'tsx', 'src/cli/main.ts']), 'gateway'], {
    cwd: repoRoot,
    env: { ...process.env, ...env, TIMEBOX_GATEWAY_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const exited = once(child, 'exit');
  // Ready is an event (its line on stdout), not a poll: resolve on it, fail on exit or timeout.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`the gateway did not start within ${readyTimeoutMs} ms: ${out.slice(-500)}`)), readyTimeoutMs);
    const check = () => /Timebox gateway listening on/.test(out) && done();
    const onExit = () => done(new Error(`the gateway exited: ${out.slice(-500)}`));
    function done(err?: Error) {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    }
    child.stdout!.on('data', check);
    child.once('exit', onExit);
    check();
  });
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    port,
    output: () => out,
    async rssMb() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
    },
    async kill9() {
      if (ended()) return;
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (ended()) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
