/**
 * `timebox ssh <target> [-- command]`: a fresh key and a 5-minute gateway certificate for it,
 * the gateway's host key pinned, then the system `ssh` through the gateway (as `tsh ssh` does).
 * `timebox ssh-keys add|list|remove`: public keys registered for the gateway in your profile.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { newEd25519KeyPair } from '../../gateway/ed25519-keypair.js';
import { connect, idArg } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { clean, print, printJson, table, when } from '../output.js';
import { readSmallTextFile } from '../small-text-file.js';

const SSH_LOCATIONS = ['/usr/bin/ssh', '/bin/ssh', '/usr/local/bin/ssh'];

/** The system ssh: TIMEBOX_SSH (absolute) or a fixed location, never looked up in PATH. */
function sshBinary(): string {
  const setting = process.env.TIMEBOX_SSH;
  if (setting) {
    if (!path.isAbsolute(setting) || !existsSync(setting)) throw new CliError(`TIMEBOX_SSH must be the absolute path of ssh, not ${JSON.stringify(setting)}`, ExitCode.usage);
    return setting;
  }
  const found = SSH_LOCATIONS.find((f) => existsSync(f));
  if (!found) throw new CliError('the OpenSSH client (ssh) is not installed; install openssh-client or set TIMEBOX_SSH');
  return found;
}

/** `host:port` → `[host]:port` as known_hosts writes a non-default port. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function splitAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address);
  if (!m) throw new CliError(`gateway address ${JSON.stringify(address)} is not host:port`, ExitCode.usage);
  return { host: m[1]!, port: Number(m[2]) };
}

export function registerSsh(program: Command): void {
  program
    .command('ssh')
    .description('open an SSH session to a target through the Timebox gateway (needs an active grant on it)')
    .argument('<target>', 'target name')
    .argument('[command...]', 'command to run instead of a shell (after --)')
    .option('--gateway <host:port>', 'gateway address (default: what the server says)')
    .option('-t, --tty', 'force a terminal for the command')
    .action(async (target: string, command: string[], opts: { gateway?: string; tty?: boolean }, cmd: Command) => {
      if (!/^[^\s@'"`$\\;&|<>()]+$/.test(target)) throw new CliError(`${JSON.stringify(target)} is not a target name`, ExitCode.usage);
      const ctx = await connect(cmd);
      const info = await ctx.api.call('getGateway');
      const address = opts.gateway ?? info.address;
      if (!address) throw new CliError('the server does not say where the gateway is; pass --gateway host:port', ExitCode.usage);
      const { host, port } = splitAddress(address);
      const tenantOpt = cmd.optsWithGlobals<{ tenant?: string }>().tenant;
      const user = tenantOpt ? `${tenantOpt}+${target}` : target;

      const dir = await mkdtemp(path.join(os.tmpdir(), 'timebox-ssh-'));
      try {
        const pair = newEd25519KeyPair(`timebox-ssh:${ctx.conn.email ?? 'operator'}`);
        const keyFile = path.join(dir, 'id_ed25519');
        await writeFile(keyFile, pair.privateKey, { mode: 0o600 });
        const cert = await ctx.api.call('issueGatewayCertificate', { body: { publicKey: pair.publicKey } });
        const certFile = path.join(dir, 'id_ed25519-cert.pub');
        await writeFile(certFile, `${cert.certificate}\n`, { mode: 0o600 });
        const knownHosts = path.join(dir, 'known_hosts');
        await writeFile(knownHosts, `${knownHostsName(host, port)} ${info.hostKey}\n`, { mode: 0o600 });
        const args = [
          ...['-p', String(port), '-i', keyFile, '-o', `CertificateFile=${certFile}`],
          ...['-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'GlobalKnownHostsFile=/dev/null'],
          ...['-o', 'ForwardAgent=no', '-o', 'ForwardX11=no', '-o', 'ClearAllForwardings=yes'],
          ...(opts.tty ? ['-t'] : []),
          `${user}@${host}`,
          ...(command.length ? ['--', ...command] : []),
        ];
        const child = spawn(sshBinary(), args, { stdio: 'inherit' });
        const code = await new Promise<number>((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 255 : 1))));
        process.exitCode = code;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

  const keys = program.command('ssh-keys').description('public keys registered in your profile for the SSH gateway');
  keys
    .command('add')
    .description('register a public key (the .pub file)')
    .requiredOption('--name <name>', 'what it is, e.g. "laptop"')
    .requiredOption('--file <path>', 'public key file, e.g. ~/.ssh/id_ed25519.pub')
    .option('--json', 'machine-readable output')
    .action(async (opts: { name: string; file: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const publicKey = (await readSmallTextFile(opts.file, 16 * 1024, 'an OpenSSH public key (.pub)')).trim();
      const k = await ctx.api.call('addSshKey', { body: { name: opts.name, publicKey } });
      if (ctx.json) return printJson(k);
      print(`Registered ${k.fingerprint} (id ${k.id}).`);
    });
  keys
    .command('list')
    .description('your registered keys')
    .option('--json', 'machine-readable output')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const { items } = await ctx.api.call('listSshKeys');
      if (ctx.json) return printJson(items);
      table(['ID', 'NAME', 'FINGERPRINT', 'ADDED'], items.map((k) => [k.id, clean(k.name), k.fingerprint, when(k.createdAt)]), 'No registered keys.');
    });
  keys
    .command('remove')
    .description('remove a registered key')
    .argument('<id>', 'key id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const keyId = idArg(id, 'key');
      await ctx.api.call('removeSshKey', { params: { id: keyId } });
      print(`Removed key ${keyId}.`);
    });
}
