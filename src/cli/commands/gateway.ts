/**
 * `timebox gateway`: runs an SSH gateway on its own (beside server replicas, same DATABASE_URL
 * and master key); `timebox gateway fingerprint` prints the host key to pin (`--known-hosts` as
 * known_hosts lines);
 * `timebox gateway rotate-host-key` replaces it (gateways present the new one from their next start).
 */
import type { Command } from 'commander';
import { RETENTION_DAYS } from '../../core/recording-retention.js';
import { intArg } from '../args.js';
import { connect } from '../context.js';
import { print, printJson } from '../output.js';

/**
 * known_hosts lines pinning the gateway's host key: at its address, and under the names of targets
 * reached with `ssh -J` (the inner connection ends at the gateway too, so the client sees the same
 * key under the target's name, port 22).
 */
export function knownHostsLines(address: string | null, hostKey: string, targets: string[]): string[] {
  const lines: string[] = [];
  if (address) {
    const i = address.lastIndexOf(':');
    const host = address.slice(0, i);
    const port = address.slice(i + 1);
    lines.push(`${port === '22' ? host : `[${host.replace(/^\[|\]$/g, '')}]:${port}`} ${hostKey}`);
  }
  const names = targets.map((t) => t.trim()).filter((t) => /^[A-Za-z0-9._+-]+$/.test(t));
  if (names.length) lines.push(`${names.join(',')} ${hostKey}`);
  return lines;
}

export function registerGateway(program: Command): void {
  const gateway = program
    .command('gateway')
    .description('run the SSH gateway (port TIMEBOX_GATEWAY_PORT, default 2222; needs the server\'s DATABASE_URL and master key)')
    .action(async () => {
      const { runGatewayProcess } = await import('../../gateway/start-gateway.js');
      const g = await runGatewayProcess();
      process.stdout.write(`Timebox gateway listening on ${g.gateway.host}:${g.gateway.port}\nHost key fingerprint: ${g.gateway.hostKeyFingerprint}\n`);
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(`\n${signal}: stopping\n`);
        await g.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });

  gateway
    .command('fingerprint')
    .description("the gateway's host key and fingerprint, as the server knows it")
    .option('--known-hosts [targets]', 'print known_hosts lines instead: the gateway\'s address and, for ssh -J, these target names (comma-separated)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { knownHosts?: string | true }, cmd: Command) => {
      const ctx = await connect(cmd);
      const g = await ctx.api.call('getGateway');
      if (ctx.json) return printJson(g);
      if (opts.knownHosts !== undefined) return print(knownHostsLines(g.address, g.hostKey, opts.knownHosts === true ? [] : opts.knownHosts.split(',')).join('\n'));
      print(`Fingerprint: ${g.fingerprint}`);
      print(`Host key:    ${g.hostKey}`);
      print(`Address:     ${g.address ?? '(not configured: TIMEBOX_GATEWAY_PUBLIC_ADDRESS)'}`);
    });

  gateway
    .command('retention')
    .description("how many days the tenant keeps session recordings; with a number, set it (admins; 1-3650)")
    .argument('[days]', 'keep recordings this many days', intArg(RETENTION_DAYS.min, RETENTION_DAYS.max))
    .option('--json', 'machine-readable output')
    .action(async (days: number | undefined, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const params = { tenant: await ctx.tenant() };
      const s = days === undefined ? await ctx.api.call('getGatewaySettings', { params }) : await ctx.api.call('setGatewaySettings', { params, body: { recordingRetentionDays: days } });
      if (ctx.json) return printJson(s);
      print(`Recordings are kept ${s.recordingRetentionDays} days after their session ends${days === undefined ? '' : ' (saved)'}; older ones are removed, each removal audited.`);
    });

  gateway
    .command('rotate-host-key')
    .description('generate a new gateway host key (run on a server host: it uses DATABASE_URL and the master key); restart the gateways after')
    .action(async () => {
      const { rotateHostKeyFromEnv } = await import('../../gateway/rotate-host-key.js');
      const r = await rotateHostKeyFromEnv();
      print(`Host key rotated: ${r.before ?? '(none)'} -> ${r.after}. Restart every gateway; people pin the new fingerprint (timebox ssh does it by itself).`);
    });
}
