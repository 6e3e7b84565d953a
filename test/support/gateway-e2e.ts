/**
 * Driving the SSH gateway from outside, as people do: `timebox gateway` as its own process, fresh
 * keys with their gateway certificates, and the system OpenSSH client (`ssh`, `sftp`) configured by
 * an ssh_config file (so `-J` jumps, whose inner ssh reads the same file, use the same identity).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot, waitUntil } from '../agent/support.js';
import { runArgv, type ExecResult } from '../harness/sshd.js';
import type { ApiClient } from './http.js';

export interface GatewayProcess {
  child: ChildProcess;
  port: number;
  output(): string;
  stop(): Promise<void>;
}

export async function startGatewayProcess(env: Record<string, string>, port: number): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'gateway'], {
    cwd: repoRoot,
    env: { ...process.env, ...env, TIMEBOX_GATEWAY_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const exited = once(child, 'exit');
  await waitUntil('the gateway listens', 90_000, async () => {
    if (child.exitCode !== null) throw new Error(`gateway exited: ${out}`);
    return /Timebox gateway listening on/.test(out);
  });
  return {
    child,
    port,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface Identity {
  keyFile: string;
  certFile: string;
}

/** A fresh Ed25519 key and its gateway certificate, as `timebox ssh` makes them. */
export async function identityOf(client: ApiClient, dir: string, name: string): Promise<Identity> {
  const keyFile = path.join(dir, name);
  const gen = await runArgv('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  if (gen.code !== 0) throw new Error(gen.stderr);
  const cert = await client.post('/api/v1/gateway/certificate', { publicKey: await readFile(`${keyFile}.pub`, 'utf8') });
  if (cert.status !== 200) throw new Error(`certificate: ${cert.status} ${JSON.stringify(cert.body)}`);
  const certFile = `${keyFile}-cert.pub`;
  await writeFile(certFile, `${cert.body.certificate}\n`);
  return { keyFile, certFile };
}

/**
 * An ssh_config for one person: `gw` is the gateway (its user name names no target, so it is a
 * jump host); every host uses the person's key and certificate and the pinned known_hosts file.
 */
export async function sshConfigFor(dir: string, name: string, gatewayPort: number, id: Identity, knownHosts: string): Promise<string> {
  const file = path.join(dir, `${name}.ssh_config`);
  await writeFile(
    file,
    [
      'Host gw',
      '  HostName 127.0.0.1',
      `  Port ${gatewayPort}`,
      '  User jump',
      'Host *',
      `  IdentityFile ${id.keyFile}`,
      `  CertificateFile ${id.certFile}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${knownHosts}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '  LogLevel ERROR',
      '  ConnectTimeout 10',
      '',
    ].join('\n'),
  );
  return file;
}

export const sshEnv = (home: string) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LC_ALL: 'C' });

/** The system ssh with a config file: `args` are what follows `-F config`. */
export const sshWith = (config: string, home: string, args: string[], input?: string): Promise<ExecResult> =>
  runArgv('/usr/bin/ssh', ['-F', config, ...args], { env: sshEnv(home), timeoutMs: 30_000, ...(input !== undefined ? { input } : {}) });
