/**
 * API latency under a steady load: a server process on PostgreSQL answering a mix of list,
 * request and approve calls at a fixed rate. The load generator is open-loop: call i is sent at
 * t0 + i / rate whatever happened to the calls before it, and its latency is counted from that
 * scheduled time, so a server that falls behind shows its queue in the figures instead of
 * slowing the generator down (which a closed loop would hide). The generator's own lateness
 * (actual send - scheduled send) is measured too: if it falls behind, the run says so.
 *
 * Every call is valid, so any answer other than 2xx is a server failure:
 * - list: GET /grants?limit=20, by a requester (their own) or an approver (everyone's);
 * - request: POST /requests by a person who has never asked (the first-time path, which also
 *   creates their JIT account), under a policy that needs one approval, so it stays pending;
 * - approve: POST /grants/:id/approve on a request made before the run by someone else, by one
 *   of the policy's approvers; the grant is then activated on the (fake) target before the answer.
 * The mix repeats every 10 calls: 6 lists, 2 requests, 2 approvals.
 *
 * Before the load, each kind of call is also sent one at a time (the next when the last was
 * answered): what a call costs the server's CPU, and how long it takes, with nothing queued
 * before it. A goal on latency under load cannot be better than this.
 *
 * Setup (tenant, people, sessions, the pending requests to approve) runs in this process through
 * the app layer; then the server runs as its own process, the only thing answering during the
 * run: compiled, as `npm start` and the service unit run it, when the run has built it (through
 * tsx otherwise, which costs more per call: the loader maps every stack trace to the source).
 * BENCH_CPU_PROF_DIR=<folder> starts it with `--cpu-prof` there, for a profile of the server alone.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { requestAccess } from '../src/app/request-access.js';
import { createTokens } from '../src/auth/tokens.js';
import { startTimebox } from '../src/server/start.js';
import { freePort } from '../test/harness/postgres.js';
import { stopChild, waitHealthy, type StartMode } from './million-grants.js';
import { cpuSplitMs, cpuTimeMs } from './process-cpu.js';
import { ENTITLEMENT, seedOperators, seededOperators } from './seed.js';
import { benchLogger, call, join, say, serverEnv, setupTenant } from './setup.js';
import { summarize, type Summary } from './stats.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

type Kind = 'list' | 'request' | 'approve';
/** One cycle of the mix: 60 % list, 20 % request, 20 % approve. */
const MIX: readonly Kind[] = ['list', 'request', 'list', 'approve', 'list', 'list', 'request', 'list', 'approve', 'list'];
const APPROVERS = 5;

export interface ApiLoadOptions {
  databaseUrl: string;
  /** Calls per second offered. */
  rate: number;
  durationMs: number;
  /** A slower run first (connections opened, code paths warmed), not counted. */
  warmupMs: number;
  warmupRate: number;
  /** Calls of each kind sent one at a time before the load. */
  oneAtATimeCalls: number;
  /** How the server process is started. */
  server: StartMode;
}

export interface OneAtATime {
  calls: number;
  /** Server process CPU per call, user and kernel. */
  serverCpuMs: number;
  serverKernelMs: number;
  latencyMs: Summary;
}

export interface ApiLoadResult {
  /** How the server process ran. */
  server: StartMode['kind'];
  rate: number;
  durationSeconds: number;
  calls: number;
  /** Scheduled send to the last byte of the answer. */
  latencyMs: Summary;
  byKindMs: Record<Kind, Summary>;
  /** Answers per second, first scheduled send to last answer. */
  achievedPerSecond: number;
  non2xx: number;
  statuses: Record<string, number>;
  /** Actual send - scheduled send: how far the generator itself fell behind. */
  generatorLagMs: Summary;
  /** CPU of the server process and of this process (the generator) over the run, in cores. */
  serverCores: number;
  generatorCores: number;
  /** Server process CPU per call (warm-up excluded): what the rate costs, whatever else runs on the machine. */
  serverCpuMsPerCall: number;
  /** Each kind of call alone, before the load. */
  oneAtATime: Record<Kind, OneAtATime>;
}

interface Plan {
  kind: Kind;
  method: 'GET' | 'POST';
  path: string;
  token: string;
  body?: string;
}

export async function measureApiLoad(o: ApiLoadOptions): Promise<ApiLoadResult> {
  const warmCalls = Math.round((o.warmupRate * o.warmupMs) / 1000);
  const runCalls = Math.round((o.rate * o.durationMs) / 1000);
  const writesOf = (n: number) => Math.ceil(n / MIX.length) * MIX.filter((k) => k === 'request').length;
  // Enough of the mix for oneAtATimeCalls of its rarest kind.
  const aloneCalls = Math.ceil(o.oneAtATimeCalls / writesOf(MIX.length)) * MIX.length;
  // Each request is a new person's first; each approval takes one request made before the run.
  const people = writesOf(warmCalls) + writesOf(aloneCalls) + writesOf(runCalls);

  const env = serverEnv({ DATABASE_URL: o.databaseUrl });
  const setupStarted = Date.now();
  const prepared = await prepare(env, people);
  say(`api load: ${people} pending requests and ${people} requesters ready in ${Date.now() - setupStarted} ms; starting the server process`);

  const port = await freePort();
  const profDir = process.env.BENCH_CPU_PROF_DIR;
  const profile = profDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profDir)}`] : [];
  const script = o.server.kind === 'compiled' ? [o.server.mainJs] : ['--import', 'tsx', 'src/cli/main.ts'];
  const child = spawn(process.execPath, [...profile, ...script, 'serve'], {
    cwd: repoRoot,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
  const killOnExit = () => child.exitCode === null && child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  try {
    await waitHealthy(`http://127.0.0.1:${port}/healthz`, child, performance.now(), () => stderr);
    const plans = planCalls(prepared, warmCalls + aloneCalls + runCalls);
    const client = { port, agent };
    const warm = await fire(client, plans.slice(0, warmCalls), o.warmupRate);
    const warmFailed = warm.filter((s) => s.status < 200 || s.status > 299);
    if (warmFailed.length) say(`api load: ${warmFailed.length} of ${warm.length} warm-up calls failed, e.g. ${warmFailed[0]!.kind} ${warmFailed[0]!.status}: ${warmFailed[0]!.error}`);
    const alone = plans.slice(warmCalls, warmCalls + aloneCalls);
    const oneAtATime = {} as Record<Kind, OneAtATime>;
    for (const kind of ['list', 'request', 'approve'] as const) {
      oneAtATime[kind] = await sendOneAtATime(client, child.pid!, alone.filter((p) => p.kind === kind).slice(0, o.oneAtATimeCalls));
    }
    const serverCpu0 = await cpuTimeMs(child.pid!);
    const ownCpu0 = process.cpuUsage();
    const wall0 = performance.now();
    const shots = await fire(client, plans.slice(warmCalls + aloneCalls), o.rate);
    const wallS = (performance.now() - wall0) / 1000;
    const serverCpuMs = (await cpuTimeMs(child.pid!)) - serverCpu0;
    const serverCores = serverCpuMs / 1000 / wallS;
    const own = process.cpuUsage(ownCpu0);
    if (child.exitCode !== null) throw new Error(`the server exited during the run: ${stderr.slice(-500)}`);

    const statuses: Record<string, number> = {};
    for (const s of shots) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
    const byKind = (k: Kind) => summarize(shots.filter((s) => s.kind === k).map((s) => s.latencyMs));
    const first = Math.min(...shots.map((s) => s.scheduledAt));
    const last = Math.max(...shots.map((s) => s.doneAt));
    const result: ApiLoadResult = {
      server: o.server.kind,
      rate: o.rate,
      durationSeconds: o.durationMs / 1000,
      calls: shots.length,
      latencyMs: summarize(shots.map((s) => s.latencyMs)),
      byKindMs: { list: byKind('list'), request: byKind('request'), approve: byKind('approve') },
      achievedPerSecond: (shots.length * 1000) / (last - first),
      non2xx: shots.filter((s) => s.status < 200 || s.status > 299).length,
      statuses,
      generatorLagMs: summarize(shots.map((s) => s.sentAt - s.scheduledAt)),
      serverCores,
      generatorCores: (own.user + own.system) / 1e6 / wallS,
      serverCpuMsPerCall: serverCpuMs / shots.length,
      oneAtATime,
    };
    const k = result.byKindMs;
    const a = (kind: Kind) => `${kind} ${oneAtATime[kind].serverCpuMs.toFixed(2)} ms CPU (${oneAtATime[kind].serverKernelMs.toFixed(2)} kernel), p50 ${oneAtATime[kind].latencyMs.p50.toFixed(1)} ms`;
    say(`api load, one call at a time: ${a('list')}; ${a('request')}; ${a('approve')}`);
    say(
      `api load: ${shots.length} calls at ${o.rate}/s: p99 ${result.latencyMs.p99.toFixed(1)} ms (list ${k.list.p99.toFixed(1)}, request ${k.request.p99.toFixed(1)}, ` +
        `approve ${k.approve.p99.toFixed(1)}); statuses ${JSON.stringify(statuses)}; server ${serverCores.toFixed(2)} cores, generator ${result.generatorCores.toFixed(2)}`,
    );
    for (const s of shots.filter((x) => x.status < 200 || x.status > 299).slice(0, 3)) say(`api load: ${s.kind} answered ${s.status}: ${s.error}`);
    return result;
  } finally {
    agent.destroy();
    await stopChild(child);
    process.removeListener('exit', killOnExit);
  }
}

/** Calls sent one after the other, each when the last was answered; the server's CPU read around them. */
async function sendOneAtATime(client: { port: number; agent: http.Agent }, pid: number, plans: Plan[]): Promise<OneAtATime> {
  const before = await cpuSplitMs(pid);
  const latencies: number[] = [];
  for (const p of plans) {
    const shot = await send(client, p, performance.now());
    if (shot.status < 200 || shot.status > 299) throw new Error(`a ${p.kind} call sent alone answered ${shot.status}: ${shot.error}`);
    latencies.push(shot.latencyMs);
  }
  const after = await cpuSplitMs(pid);
  const n = Math.max(plans.length, 1);
  return {
    calls: plans.length,
    serverCpuMs: (after.userMs + after.kernelMs - before.userMs - before.kernelMs) / n,
    serverKernelMs: (after.kernelMs - before.kernelMs) / n,
    latencyMs: summarize(latencies),
  };
}

interface Prepared {
  slug: string;
  body: string;
  /** Sessions of people who have never requested, one per request call. */
  requesterTokens: string[];
  approverTokens: string[];
  /** Requests waiting for an approval, one per approve call. */
  pendingGrantIds: string[];
}

/**
 * In this process, before the server process starts: the tenant, the approvers, a policy that
 * needs one of them, the people, their sessions, and one pending request per approve call.
 */
async function prepare(env: Record<string, string>, people: number): Promise<Prepared> {
  const tb = await startTimebox({ env, logger: benchLogger() });
  try {
    const t = await setupTenant(tb.url, tb.bootstrap, { maxDurationSeconds: 3600 });
    const db = tb.store.db;
    const admin = await call<{ token: string }>(tb.url, 'POST', '/api/v1/auth/login', null, tb.bootstrap);

    // The approvers join as people do (their ids must be real UUIDs: a policy names them).
    const approvers = await Promise.all(Array.from({ length: APPROVERS }, (_, i) => join(tb.url, admin.token, t.slug, `approver${i + 1}@bench.invalid`, ['approver'])));
    // The setup's policy grants without approval; this benchmark's requests must wait for one.
    await call(tb.url, 'DELETE', `/api/v1/tenants/${t.slug}/policies/${t.policyId}`, admin.token);
    const policy = await call<{ id: string }>(tb.url, 'POST', `/api/v1/tenants/${t.slug}/policies`, admin.token, {
      name: 'bench approval',
      targetId: t.targetId,
      requesterRoles: ['requester'],
      maxDurationSeconds: 3600,
      defaultDurationSeconds: 3600,
      reasonMinLength: 0,
      rules: { approvalLevels: [{ approverIds: approvers.map((a) => a.operatorId), quorum: 1 }] },
    });

    // People 1..n ask before the run (their requests are approved during it); n+1..2n ask during it.
    const scope = { ...t, tag: 'api' };
    await seedOperators(db, scope, 1, 2 * people);
    const everyone = await seededOperators(db, scope, 2 * people);
    const askers = everyone.slice(0, people);
    const ask = { targetId: t.targetId, entitlements: [ENTITLEMENT], reason: 'benchmark load', policyId: policy.id };

    const tokens = createTokens({ db, audit: tb.deps.audit, clock: tb.deps.clock });
    // Sessions for the people who ask during the run, as their sign-in would create them.
    const requesterTokens = await db.transaction().execute(async (tx) => {
      const out: string[] = [];
      for (const p of everyone.slice(people)) out.push((await tokens.createSession(p.operatorId, tx)).token);
      return out;
    });

    const pendingGrantIds: string[] = new Array<string>(people);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < askers.length; i = next++) {
        const who = askers[i]!;
        const g = await requestAccess(tb.deps, { type: 'operator', id: who.operatorId }, t.tenantId, who, ask);
        if (g.state !== 'requested') throw new Error(`a request under the approval policy is ${g.state}, not waiting for approval`);
        pendingGrantIds[i] = g.id;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    // As autovacuum would shortly after such a load: plans from real statistics, not empty tables.
    await sql`ANALYZE`.execute(db);
    return {
      slug: t.slug,
      body: JSON.stringify({ targetId: ask.targetId, entitlements: ask.entitlements, reason: ask.reason, policyId: ask.policyId }),
      requesterTokens,
      approverTokens: approvers.map((a) => a.token),
      pendingGrantIds,
    };
  } finally {
    await tb.close();
  }
}

/** The calls in order; each request and each approval uses its own person or pending request. */
function planCalls(p: Prepared, n: number): Plan[] {
  const base = `/api/v1/tenants/${p.slug}`;
  const plans: Plan[] = [];
  let requests = 0;
  let approvals = 0;
  let lists = 0;
  for (let i = 0; i < n; i++) {
    const kind = MIX[i % MIX.length]!;
    if (kind === 'request') {
      plans.push({ kind, method: 'POST', path: `${base}/requests`, token: p.requesterTokens[requests++]!, body: p.body });
    } else if (kind === 'approve') {
      const grantId = p.pendingGrantIds[approvals]!;
      plans.push({ kind, method: 'POST', path: `${base}/grants/${grantId}/approve`, token: p.approverTokens[approvals++ % APPROVERS]!, body: '{}' });
    } else {
      // One list in five by an approver (everyone's grants), the others by requesters (their own).
      const l = lists++;
      const token = l % 5 === 0 ? p.approverTokens[l % APPROVERS]! : p.requesterTokens[l % p.requesterTokens.length]!;
      plans.push({ kind, method: 'GET', path: `${base}/grants?limit=20`, token });
    }
  }
  return plans;
}

interface Shot {
  kind: Kind;
  status: number;
  scheduledAt: number;
  sentAt: number;
  doneAt: number;
  latencyMs: number;
  error?: string;
}

/** Open loop: call i goes out at start + i / rate (or as soon after as the timer wakes), never waiting for answers. */
async function fire(client: { port: number; agent: http.Agent }, plans: Plan[], rate: number): Promise<Shot[]> {
  const interval = 1000 / rate;
  const start = performance.now() + 20;
  const answers: Promise<Shot>[] = [];
  let i = 0;
  while (i < plans.length) {
    const now = performance.now();
    while (i < plans.length && start + i * interval <= now) {
      answers.push(send(client, plans[i]!, start + i * interval));
      i++;
    }
    if (i < plans.length) await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + i * interval - performance.now())));
  }
  return Promise.all(answers);
}

function send(client: { port: number; agent: http.Agent }, plan: Plan, scheduledAt: number): Promise<Shot> {
  const sentAt = performance.now();
  return new Promise((resolve) => {
    const done = (status: number, error?: string) => {
      const doneAt = performance.now();
      resolve({ kind: plan.kind, status, scheduledAt, sentAt, doneAt, latencyMs: doneAt - scheduledAt, error });
    };
    const req = http.request(
      {
        host: '127.0.0.1',
        port: client.port,
        method: plan.method,
        path: plan.path,
        agent: client.agent,
        headers: { authorization: `Bearer ${plan.token}`, ...(plan.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        timeout: 30_000,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status <= 299;
        let text = '';
        // Answers are read to the end either way; only a failure's text is kept, for the report.
        res.on('data', (d: Buffer) => void (ok || (text = (text + d.toString()).slice(0, 300))));
        res.on('end', () => done(status, ok ? undefined : text));
        res.on('error', (err) => done(0, err.message));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (err) => done(0, err.message));
    req.end(plan.body);
  });
}
