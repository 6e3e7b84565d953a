/**
 * The endpoint agent's composition root: `timebox agent run --state-dir DIR [--schedule-file F]`
 * calls `runAgent`. It loads the local schedule, starts the enforcer (which ends overdue grants at
 * once), then feeds it desired states from a source for as long as it runs: the server (long poll,
 * signed with the key from `timebox agent enroll`) when the state directory holds an identity, else
 * a local file. Losing the source never stops enforcement. In server mode it can also keep sshd's
 * certificate trust files current (`sshTrust`, ssh-trust.ts), refreshed whenever a new state arrives.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type DestinationStream, type Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.js';
import { generatePassword } from '../core/password.js';
import { AgentConfigSchema, loadAgentConfig, type AgentConfigInput } from './config.js';
import { defaultHostName, SmtpCredentialDelivery, type CredentialDelivery } from './deliver-credentials.js';
import { FileDesiredStateSource, type DesiredStateSource } from './desired-state-source.js';
import { Enforcer } from './enforcer.js';
import type { HostOperations } from './host/host-operations.js';
import { LinuxHost } from './host/linux-host.js';
import { AgentClient } from './http-client.js';
import { HttpDesiredStateSource, jitteredBackoff } from './http-source.js';
import { loadIdentity } from './identity.js';
import { Journal } from './journal.js';
import { Reporter } from './reporter.js';
import { ScheduleStore } from './schedule.js';
import { SshTrustSync } from './ssh-trust.js';
import { ensurePrivateDir } from './state-files.js';

export interface RunAgentOptions {
  stateDir: string;
  /** A local desired-state JSON file (offline mode and tests). */
  scheduleFile?: string;
  /** Any other source; wins over `scheduleFile` and over the server the state directory is enrolled with. */
  source?: DesiredStateSource;
  /** Settings; when absent, `configFile` (default `<stateDir>/agent.json`, optional) is read. */
  config?: AgentConfigInput;
  configFile?: string;
  host?: HostOperations;
  delivery?: CredentialDelivery;
  logger?: Logger;
  clock?: Clock;
  /** Aborting stops the agent; runAgent then resolves. */
  signal?: AbortSignal;
  /** Poll interval of the local file source. */
  filePollMs?: number;
  /** Never talk to a server even if the state directory holds an identity. */
  offline?: boolean;
}

export interface AgentHandle {
  enforcer: Enforcer;
  store: ScheduleStore;
  journal: Journal;
  /** Set in server mode. */
  reporter: Reporter | null;
  /** Set in server mode when agent.json has `sshTrust`. */
  sshTrust: SshTrustSync | null;
  /** Settles when the source loop ends (after stop). */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** Pino (stdout by default) with secret-bearing keys censored, in case one is ever passed by mistake. */
export function agentLogger(destination?: DestinationStream): Logger {
  const options = {
    name: 'timebox-agent',
    redact: { paths: ['password', '*.password', 'pass', '*.pass', 'smtp.auth.pass'], censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}

export async function startAgent(opts: RunAgentOptions): Promise<AgentHandle> {
  const log = opts.logger ?? agentLogger();
  const clock = opts.clock ?? systemClock;
  const stateDir = path.resolve(opts.stateDir);
  if (!opts.host && typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('the agent manages local accounts and sudoers: it must run as root');
  }
  await ensurePrivateDir(stateDir);
  const config = opts.config
    ? AgentConfigSchema.parse(opts.config)
    : ((await loadAgentConfig(opts.configFile ?? path.join(stateDir, 'agent.json'), !opts.configFile)) ?? {});
  const host = opts.host ?? new LinuxHost({ powerUsersGroup: config.powerUsersGroup, shell: config.shell });
  const delivery = opts.delivery ?? (config.smtp ? new SmtpCredentialDelivery(config.smtp) : null);
  const store = new ScheduleStore(stateDir);
  await store.load();
  const journal = new Journal(stateDir, clock, log);
  const enforcer = new Enforcer({
    host,
    store,
    journal,
    clock,
    log,
    delivery,
    hostName: config.hostName ?? defaultHostName(),
    newPassword: () => generatePassword(24),
    maxSleepMs: config.maxSleepMs,
    ...(config.driftCheckSeconds !== undefined ? { driftCheckMs: config.driftCheckSeconds * 1000 } : {}),
    ...(config.driftWatchHours !== undefined ? { driftWatchMs: config.driftWatchHours * 3_600_000 } : {}),
  });
  log.info({ stateDir, grants: store.grants().length }, 'agent starting: enforcing the local schedule');
  await enforcer.start();

  const abort = new AbortController();
  opts.signal?.addEventListener('abort', () => abort.abort(), { once: true });
  let source = opts.source ?? (opts.scheduleFile ? new FileDesiredStateSource(path.resolve(opts.scheduleFile), { pollMs: opts.filePollMs }) : null);
  let reporter: Reporter | null = null;
  let reporting: Promise<void> = Promise.resolve();
  let sshTrust: SshTrustSync | null = null;
  let trusting: Promise<void> = Promise.resolve();
  if (!source && !opts.offline) {
    const enrolled = await loadIdentity(stateDir);
    if (enrolled) {
      const client = new AgentClient({ server: enrolled.server, agentId: enrolled.identity.agentId, key: enrolled.key, caPem: enrolled.identity.caPem });
      source = new HttpDesiredStateSource(client, config.pollWaitSeconds);
      reporter = new Reporter({ client, journal, store, stateDir, log, heartbeatMs: config.heartbeatMs, backoffMaxMs: config.backoffMaxMs });
      journal.onRecord = () => reporter?.kick();
      log.info({ server: enrolled.server.origin, agentId: enrolled.identity.agentId }, 'server mode: desired states by long poll, journal and heartbeats reported');
      reporting = reporter.run(abort.signal);
      if (config.sshTrust) {
        sshTrust = new SshTrustSync({
          settings: config.sshTrust,
          server: enrolled.server,
          tenant: enrolled.identity.tenant,
          caPem: enrolled.identity.caPem,
          log,
          backoffMaxMs: config.backoffMaxMs,
        });
        log.info({ revokedKeysFile: config.sshTrust.revokedKeysFile, trustedCaKeysFile: config.sshTrust.trustedCaKeysFile ?? null }, 'maintaining the SSH trust files');
        trusting = sshTrust.run(abort.signal);
      }
    } else {
      log.warn({ stateDir }, 'no desired-state source (not enrolled, no --schedule-file): only the local schedule is enforced');
    }
  }
  if (config.sshTrust && !sshTrust) log.warn('sshTrust is set, but the trust files come from a server and this agent is not talking to one: not maintained');
  const onState = () => sshTrust?.kick();
  const fed = source ? feed(source, enforcer, store, log, abort.signal, config.backoffMaxMs ?? 30_000, onState) : Promise.resolve();
  const done = Promise.all([fed, reporting, trusting]).then(() => undefined);
  const stop = async () => {
    abort.abort();
    await done;
    await enforcer.stop();
  };
  return { enforcer, store, journal, reporter, sshTrust, done, stop };
}

/**
 * Desired states into the enforcer; failures back off (with jitter) and leave enforcement untouched.
 * `onState` hears of every new state first: the server also bumps the version when the tenant's
 * SSH trust changed, and the trust files should not wait for the grants to be applied.
 */
async function feed(
  source: DesiredStateSource,
  enforcer: Enforcer,
  store: ScheduleStore,
  log: Logger,
  signal: AbortSignal,
  backoffMaxMs: number,
  onState: () => void,
): Promise<void> {
  let failures = 0;
  while (!signal.aborted) {
    try {
      const ds = await source.next(store.desiredVersion, signal);
      if (failures > 0) log.info('desired-state source reachable again');
      failures = 0;
      if (ds) {
        onState();
        // Version and count only: a desired state may carry passwords.
        log.info({ version: ds.version, grants: ds.grants.length }, 'desired state received');
        await enforcer.applyDesiredState(ds);
      }
    } catch (err) {
      if (signal.aborted) break;
      failures++;
      const waitMs = jitteredBackoff(failures, backoffMaxMs);
      log.warn({ err: (err as Error).message, retryInMs: waitMs }, 'desired state unavailable; still enforcing the local schedule');
      await sleep(waitMs, undefined, { signal }).catch(() => undefined);
    }
  }
}

/** Runs until `signal` aborts (the CLI wires SIGTERM/SIGINT to it). */
export async function runAgent(opts: RunAgentOptions): Promise<void> {
  const agent = await startAgent(opts);
  const signal = opts.signal;
  if (!signal) {
    await new Promise<never>(() => {}); // runs for the life of the process
  } else if (!signal.aborted) {
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }
  await agent.stop();
}
