/**
 * Driving the SSH gateway from outside, as people do: `timebox gateway` as its own process, fresh
 * keys with their gateway certificates, and the system OpenSSH client (`ssh`, `sftp`) configured by
 * an ssh_config file (so `-J` jumps, whose inner ssh reads the same file, use the same identity).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runArgv, type ExecResult } from '../harness/sshd.js';
import { gatewaySshEnv as sshEnv, type Identity } from './gateway.js';

export { identityOf, gatewaySshEnv as sshEnv, startGatewayProcess, type GatewayProcess, type Identity } from './gateway.js';

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


/** The system ssh with a config file: `args` are what follows `-F config`. */
export const sshWith = (config: string, home: string, args: string[], input?: string): Promise<ExecResult> =>
  runArgv('/usr/bin/ssh', ['-F', config, ...args], { env: sshEnv(home), timeoutMs: 30_000, ...(input !== undefined ? { input } : {}) });
