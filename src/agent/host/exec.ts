/**
 * Runs host tools as argv arrays (never a shell), from fixed system directories (never $PATH: the
 * agent runs as root), in the C locale (parsable output), with a timeout, secrets fed on stdin
 * only, and secrets scrubbed from any error text.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { transient } from '../../core/errors.js';

const SYSTEM_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const SAFE_ENV = { PATH: SYSTEM_DIRS.join(':'), LC_ALL: 'C', LANG: 'C' };

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Written to stdin then closed (passwords go here, never into argv where `ps` shows them). */
  input?: string;
  /** Strings to replace with [redacted] in errors (the input is always redacted). */
  secrets?: string[];
  timeoutMs?: number;
  /** Exit codes that are not failures (e.g. grep-like "not found"). */
  okCodes?: number[];
}

const resolved = new Map<string, string>();

/** Absolute path of a system tool, or null when the host does not have it. */
export function findTool(name: string): string | null {
  const hit = resolved.get(name);
  if (hit) return hit;
  for (const dir of SYSTEM_DIRS) {
    const p = path.join(dir, name);
    if (existsSync(p)) {
      resolved.set(name, p);
      return p;
    }
  }
  return null;
}

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out;
}

export async function run(tool: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const file = findTool(tool);
  if (!file) throw transient(`${tool} is not installed (looked in ${SYSTEM_DIRS.join(', ')})`);
  const secrets = [...(opts.secrets ?? []), ...(opts.input ? [opts.input.trim(), opts.input] : [])];
  const okCodes = opts.okCodes ?? [0];
  const shown = redact([tool, ...args].join(' '), secrets);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: SAFE_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(transient(`${shown}: ${redact(err.message, secrets)}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? -1, stdout, stderr };
      if (code !== null && okCodes.includes(code)) return resolve(result);
      const why = redact((stderr.trim() || stdout.trim()).slice(-1000), secrets) || `signal ${signal}`;
      reject(transient(`${shown} failed (exit ${code ?? signal}): ${why}`));
    });
    child.stdin.on('error', () => {}); // a tool that exits early closes stdin: the exit code tells
    child.stdin.end(opts.input ?? '');
  });
}
