/**
 * Timebox as a separate process, as it runs in production: so a test can kill -9 it mid-work
 * and start it again. Runs `node` on this run's build (one process, no wrapper that would outlive
 * a kill).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { compiledEntry } from '../harness/compiled.js';

export interface ChildServer {
  url: string;
  pid: number;
  bootstrap: { email: string; password: string } | null;
  output(): string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export async function startChildServer(env: Record<string, string>, timeoutMs = 30_000): Promise<ChildServer> {
  // The default (./data) is the developer's own server's: its audit signing key and witness.
  if (!env.TIMEBOX_DATA_DIR) throw new Error('a test server needs a data folder of its own (TIMEBOX_DATA_DIR)');
  const child: ChildProcess = spawn(process.execPath, [compiledEntry('cli/main'), 'serve'], {
    // Every test target, relay and receiver listens on this host.
    env: { ...process.env, TIMEBOX_LOG_LEVEL: 'warn', TIMEBOX_OUTBOUND_ALLOW: 'loopback', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const exited = once(child, 'exit');

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running behind a failed test.
      child.kill('SIGKILL');
      reject(new Error(`server did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = () => {
      const m = /Timebox listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready:\n${out}`));
    });
  });
  const email = /email:\s+(\S+)/.exec(out)?.[1];
  const password = /password:\s+(\S+)/.exec(out)?.[1];
  return {
    url,
    pid: child.pid!,
    bootstrap: email && password ? { email, password } : null,
    output: () => out,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
