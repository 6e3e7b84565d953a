/**
 * The shared conformance suites against a real agent on a real (throwaway) host: `linux-agent`
 * login-shaped (a person logs in over SSH with the password the grant revealed), and
 * `linux-agent-users` membership-shaped (an existing user of the host, logged in as themselves,
 * holds the group or may sudo). The connectors are the running server's; the agent runs inside the
 * namespace with a real sshd, PAM and sudo, and is waited for after each grant and revoke until
 * its journal says the host has applied them (`settled`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeConnectorConformance } from '../../src/connectors/conformance.js';
import { describeMembershipConformance, type Person } from '../../src/connectors/membership-conformance.js';
import { agentsDb } from '../../src/store/schema-agents.js';
import { createHostNamespace, type HostNamespace, type NsSshd } from '../harness/host-namespace.js';
import { sshRun, waitUntil, type AgentProcess } from '../agent/support.js';
import { addMember, enrolledAgent, policyFor, startRestartableServer, type RestartableServer } from './agent-support.js';

const T = '/api/v1/tenants/default';

interface Host {
  server: RestartableServer;
  ns: HostNamespace;
  sshd: NsSshd;
  agentId: string;
  tenantId: string;
  /** Until every grant in the agent's desired state is active on the host, and every one taken out has ended there. */
  settled(): Promise<void>;
  /** A grant row the desired state can refer to (copied from a real, finished one), its id. */
  newGrantId(): Promise<string>;
}

let host: Promise<Host> | null = null;
/** The suites of this file: they run one after the other, and share the host. */
const SUITES = 2;
let finished = 0;
let agent: AgentProcess | undefined;
let stateDir = '';

/** One server, host and agent for both suites; the last suite to finish tears them down. */
function sharedHost(): Promise<Host> {
  host ??= (async () => {
    const server = await startRestartableServer();
    const ns = await createHostNamespace();
    const sshd = await ns.startSshd();
    for (const group of ['ops', 'dev']) {
      const r = await ns.exec(['groupadd', group]);
      if (r.code !== 0) throw new Error(`groupadd ${group}: ${r.stderr}`);
    }
    stateDir = await mkdtemp(path.join(tmpdir(), 'tb-agent-conformance-'));
    const enrolled = await enrolledAgent(server, ns, stateDir);
    agent = await enrolled.run();
    const db = agentsDb(server.tb.deps.db);
    const { tenant_id: tenantId } = await db.selectFrom('agents').select('tenant_id').where('id', '=', enrolled.agentId).executeTakeFirstOrThrow();
    const settled = () =>
      waitUntil('the agent applied its desired state', 60_000, async () => {
        if (agent?.child.exitCode !== null) throw new Error(`the agent exited: ${agent?.output()}`);
        const rows = await db.selectFrom('agent_grants').select(['agent_status', 'removed_at']).where('agent_id', '=', enrolled.agentId).execute();
        return rows.every((r) => (r.removed_at === null ? r.agent_status === 'active' : r.agent_status === 'ended') || r.agent_status === 'rejected');
      }).then(() => undefined);
    // One real grant through the API (a person, a request, a JIT account), ended at once: the
    // suites' grants are recorded as finished copies of it, since the agent's rows refer to grants.
    const added = await server.admin.post(`${T}/targets`, { name: 'web-01', kind: 'linux-agent', config: { agentId: enrolled.agentId } });
    if (added.status !== 201) throw new Error(`target: ${added.status} ${JSON.stringify(added.body)}`);
    await policyFor(server.admin, added.body.target.id, 'web-01', 3600);
    const tess = await addMember(server, 'tess@example.test', ['requester']);
    const req = await tess.post(`${T}/requests`, { targetId: added.body.target.id, entitlements: ['users'], durationSeconds: 60, reason: 'template grant for the suites', accountName: 'tbtemplate' });
    if (req.status !== 201) throw new Error(`request: ${req.status} ${JSON.stringify(req.body)}`);
    const template = await server.tb.deps.db.selectFrom('grants').selectAll().where('id', '=', req.body.id).executeTakeFirstOrThrow();
    const newGrantId = async () => {
      const id = randomUUID();
      const now = new Date();
      await server.tb.deps.db
        .insertInto('grants')
        .values({ ...template, id, state: 'revoked', handle: null, credential_enc: null, created_at: now, updated_at: now } as never)
        .execute();
      return id;
    };
    return { server, ns, sshd, agentId: enrolled.agentId, tenantId, settled, newGrantId };
  })();
  return host;
}

async function release(): Promise<void> {
  if (++finished < SUITES || !host) return;
  const h = await host;
  await agent?.kill9();
  await h.ns.destroy();
  await h.server.destroy();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
}

const suffix = () => randomBytes(3).toString('hex');

describeConnectorConformance('linux-agent (a real agent, SSH logins)', async () => {
  const h = await sharedHost();
  const definition = h.server.tb.deps.connectors.definition('linux-agent')!;
  return {
    definition,
    config: definition.configSchema.parse({ agentId: h.agentId, groups: ['ops', 'dev'] }),
    tenantId: h.tenantId,
    entitlements: ['administrators', 'group:ops'],
    newUsername: () => `tbc${suffix()}`,
    canLogin: async (username, password) => (await sshRun(h.sshd.port, username, password, ['true'])).code === 0,
    settled: h.settled,
    newGrantId: h.newGrantId,
    partialRevoke: false,
    cleanup: release,
  };
});

describeMembershipConformance('linux-agent-users (a real agent, existing users)', async () => {
  const h = await sharedHost();
  const definition = h.server.tb.deps.connectors.definition('linux-agent-users')!;
  const root = async (argv: string[], input?: string) => {
    const r = await h.ns.exec(argv, input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  };
  const as = (p: Person, command: string[]) => sshRun(h.sshd.port, p.username, p.password, command);
  return {
    definition,
    config: definition.configSchema.parse({ agentId: h.agentId, groups: ['ops', 'dev'], sudoRules: { root: { commands: ['ALL'] } } }),
    tenantId: h.tenantId,
    entitlements: ['group:ops', 'sudo:root'],
    missing: `missing_${suffix()}`,
    async newPerson() {
      const p = { username: `pc${suffix()}`, password: `Pw-${randomBytes(12).toString('base64url')}` };
      await root(['useradd', '-m', '-s', '/bin/bash', p.username]);
      await root(['chpasswd'], `${p.username}:${p.password}\n`);
      return p;
    },
    async holds(p, entitlement) {
      if (entitlement === 'sudo:root') return (await as(p, ['sudo', '-n', 'true'])).code === 0;
      const r = await as(p, ['id', '-nG']);
      return r.code === 0 && r.stdout.split(/\s+/).includes(entitlement.slice('group:'.length));
    },
    canLogin: async (p) => (await as(p, ['true'])).code === 0,
    settled: h.settled,
    newGrantId: h.newGrantId,
    partialRevoke: false,
    cleanup: release,
  };
});
