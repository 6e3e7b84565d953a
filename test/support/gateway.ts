/**
 * A real SSH gateway rig for tests: a server on a fresh PostgreSQL database, a throwaway host
 * (namespace) with sshd and an enrolled agent, its `web-01` host target with a policy, the
 * gateway destination pinned to the host's key, and `timebox gateway` as a process of its own
 * beside the server (so whatever crosses from the gateway to the server crosses processes).
 * The system OpenSSH client connects with a fresh key and a gateway certificate.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import type { AgentProcess } from '../agent/support.js';
import { enrolledAgent, hostTargetWithPolicy, startRestartableServer, type RestartableServer } from '../e2e/agent-support.js';
import { createHostNamespace, freePort, type HostNamespace, type NsSshd } from '../harness/host-namespace.js';
import { compiledEntry } from '../harness/compiled.js';
import { startGatewayProcess as startProcess, type GatewayProcess } from '../harness/gateway-process.js';
export type { GatewayProcess } from '../harness/gateway-process.js';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { runArgv } from '../harness/sshd.js';
import type { ApiClient } from './http.js';

/** `timebox gateway` as its own process, from this run's build. */
export const startGatewayProcess = (env: Record<string, string>, port: number): Promise<GatewayProcess> =>
  startProcess(env, port, { mainJs: compiledEntry('cli/main') });

/** A key and its gateway certificate, as `timebox ssh` makes them. */
export interface Identity {
  keyFile: string;
  certFile: string;
}

export interface GatewayRig {
  db: TestDatabase;
  server: RestartableServer;
  ns: HostNamespace;
  sshd: NsSshd;
  agent: AgentProcess;
  targetId: string;
  /** Private folder: keys, known_hosts, recordings. */
  dir: string;
  /** The running gateway (replaced by startGateway). */
  gw: GatewayProcess;
  /** Starts a gateway process on `port` (e.g. the same port after a kill) and makes it `gw`. */
  startGateway(port: number): Promise<GatewayProcess>;
  identity(client: ApiClient, name: string): Promise<Identity>;
  /** Arguments of the system ssh to `user@` the gateway, pinned to its host key. */
  sshArgs(user: string, id: Identity, command: string[], extra?: string[]): string[];
  sshEnv(): Record<string, string>;
  destroy(): Promise<void>;
}

/** A fresh Ed25519 key in `dir` and its gateway certificate, as `timebox ssh` makes them. */
export async function identityOf(client: ApiClient, dir: string, name: string): Promise<Identity> {
  const keyFile = path.join(dir, `${name}-${randomBytes(3).toString('hex')}`);
  const gen = await runArgv('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  if (gen.code !== 0) throw new Error(gen.stderr);
  const cert = await client.post('/api/v1/gateway/certificate', { publicKey: await readFile(`${keyFile}.pub`, 'utf8') });
  if (cert.status !== 200) throw new Error(`certificate: ${cert.status} ${JSON.stringify(cert.body)}`);
  const certFile = `${keyFile}-cert.pub`;
  await writeFile(certFile, `${cert.body.certificate}\n`);
  return { keyFile, certFile };
}

/** Arguments of the system ssh to `user@` a gateway on loopback, pinned to its host key in `knownHosts`. */
export function gatewaySshArgs(o: { port: number; knownHosts: string; user: string; id: Identity; command: string[]; extra?: string[] }): string[] {
  return [
    '-F', 'none', '-p', String(o.port),
    '-o', `UserKnownHostsFile=${o.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10',
    '-i', o.id.keyFile, '-o', `CertificateFile=${o.id.certFile}`,
    ...(o.extra ?? []),
    `${o.user}@127.0.0.1`, ...(o.command.length ? ['--', ...o.command] : []),
  ];
}

/** The environment the system ssh runs with: a private HOME, nothing of the developer's. */
export const gatewaySshEnv = (home: string) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LC_ALL: 'C' });

export async function startGatewayRig(opts: { pgAdminUrl: string; serverEnv?: Record<string, string>; gatewayEnv?: Record<string, string> }): Promise<GatewayRig> {
  const masterKey = randomBytes(32).toString('base64');
  const db = await createTestDatabase(opts.pgAdminUrl);
  const dir = await mkdtemp(path.join(tmpdir(), 'tb-gateway-e2e-'));
  const recordings = path.join(dir, 'recordings');
  const server = await startRestartableServer({ DATABASE_URL: db.url, TIMEBOX_MASTER_KEY: masterKey, TIMEBOX_GATEWAY_RECORDINGS_DIR: recordings, ...opts.serverEnv });
  const gatewayEnv = {
    DATABASE_URL: db.url,
    TIMEBOX_MASTER_KEY: masterKey,
    TIMEBOX_DATA_DIR: dir,
    TIMEBOX_GATEWAY_RECORDINGS_DIR: recordings,
    TIMEBOX_GATEWAY_ID: 'gateway-under-test',
    TIMEBOX_OUTBOUND_ALLOW: 'loopback',
    TIMEBOX_LOG_LEVEL: process.env.TIMEBOX_TEST_LOG ?? 'warn',
    ...opts.gatewayEnv,
  };
  const ns = await createHostNamespace();
  const sshd = await ns.startSshd();
  const enrolled = await enrolledAgent(server, ns, await mkdtemp(`${path.join(dir, 'agent')}-`));
  const agent = await enrolled.run();
  const targetId = (await hostTargetWithPolicy(server.admin, enrolled.agentId, {}, 3600)).targetId;

  const scan = await runArgv('/usr/bin/ssh-keyscan', ['-t', 'ed25519', '-p', String(sshd.port), '127.0.0.1']);
  const line = scan.stdout.split('\n').find((l) => l.includes('ssh-ed25519'));
  if (!line) throw new Error(`ssh-keyscan: ${scan.stderr}`);
  const dest = await server.admin.call('PUT', `/api/v1/tenants/default/targets/${targetId}/gateway-destination`, { host: '127.0.0.1', port: sshd.port, hostKey: line });
  expect(dest.status, JSON.stringify(dest.body)).toBe(200);

  const rig: GatewayRig = {
    db,
    server,
    ns,
    sshd,
    agent,
    targetId,
    dir,
    gw: await startGatewayProcess(gatewayEnv, await freePort()),
    async startGateway(port) {
      rig.gw = await startGatewayProcess(gatewayEnv, port);
      return rig.gw;
    },
    identity: (client, name) => identityOf(client, dir, name),
    sshArgs: (user, id, command, extra = []) => gatewaySshArgs({ port: rig.gw.port, knownHosts: path.join(dir, 'known_hosts'), user, id, command, extra }),
    sshEnv: () => gatewaySshEnv(dir),
    async destroy() {
      await rig.gw?.stop();
      await agent.kill9();
      await ns.destroy();
      await server.destroy();
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  const info = (await server.admin.get('/api/v1/gateway')).body;
  expect(info.fingerprint).toMatch(/^SHA256:/);
  // Pinned: the client accepts the gateway only with this key.
  await writeFile(path.join(dir, 'known_hosts'), `[127.0.0.1]:${rig.gw.port} ${info.hostKey}\n`);
  return rig;
}
