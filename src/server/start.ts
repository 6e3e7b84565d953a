/**
 * The composition root: the one place where store, secrets, audit, connectors, scheduler and
 * HTTP are built and wired together.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';
import { installationId } from '../app/installation.js';
import { createActivateJob } from '../app/activate-grant.js';
import { signalSshTrustChange } from '../app/agent-channel.js';
import type { AppDeps } from '../app/deps.js';
import { createPendingTimeoutJob } from '../app/pending-timeout.js';
import { createExpiryWarningJob } from '../app/expiry-warning.js';
import { createRevokeBatchJob, createRevokeJob } from '../app/revoke-grant.js';
import { createReconciler } from '../app/reconcile.js';
import { createTargetProbe } from '../app/probe-targets.js';
import { createAuditLog } from '../audit/audit-log.js';
import { createAuditSealer, type AuditSealer } from '../audit/audit-sealer.js';
import { oldestUnsealedAgeSeconds } from '../audit/seal-lag.js';
import { siemSinksFromConfig } from '../siem/siem-config.js';
import { createSiemStreamer, type SiemStreamer } from '../siem/siem-streamer.js';
import type { AuditTrust } from '../audit/audit-verify.js';
import { loadAuditSigningKey, type AuditSigningKey } from '../audit/signing-key.js';
import { fileWitness, WITNESS_FILE } from '../audit/witness.js';
import { join } from 'node:path';
import { bootstrapIfEmpty, type BootstrapCredentials } from '../auth/bootstrap.js';
import type { ConnectorDefinition } from '../connectors/contract.js';
import { fakeConnector } from '../connectors/fake/fake-connector.js';
import { postgresConnector } from '../connectors/postgres/postgres-connector.js';
import { mariadbConnector } from '../connectors/mariadb/mariadb-connector.js';
import {
  activeDirectoryConnector,
  activeDirectoryGroupMembershipConnector,
} from '../connectors/active-directory/active-directory-connector.js';
import { createConnectorHub, createRegistry, type KindRegistry } from '../connectors/registry.js';
import { securityTokenConnector, sshCertificateConnector, x509CertificateConnector } from '../connectors/credentials/index.js';
import { createCredentialEngines, type CredentialEngines } from '../credentials/index.js';
import { credentialRoutes } from '../http/routes/credential-routes.js';
import { systemClock, type Clock } from '../core/clock.js';
import { createHttpServer, type ZodApp } from '../http/server.js';
import { approvalRoutes } from '../http/routes/approval-routes.js';
import { auditRoutes } from '../http/routes/audit-routes.js';
import { eventRoutes } from '../http/routes/event-routes.js';
import { groupRoutes } from '../http/routes/group-routes.js';
import { notificationRoutes } from '../http/routes/notification-routes.js';
import { defaultWebDir, webRoutes } from '../http/routes/web-routes.js';
import { createNotificationDispatcher } from '../notify/dispatcher.js';
import { createOutboundPolicy } from '../net/outbound-policy.js';
import { createNotifier } from '../notify/notifier.js';
import { grantRoutes } from '../http/routes/grant-routes.js';
import { offboardingRoutes } from '../http/routes/offboarding-routes.js';
import { createOffboarding } from '../app/offboarding.js';
import { createTokens } from '../auth/tokens.js';
import { jitAccountRoutes } from '../http/routes/jit-account-routes.js';
import { jitSettingsRoutes } from '../http/routes/jit-settings-routes.js';
import { policyRoutes } from '../http/routes/policy-routes.js';
import { targetRoutes } from '../http/routes/target-routes.js';
import { targetKindRoutes } from '../http/routes/target-kind-routes.js';
import { agentRoutes } from '../http/routes/agent-routes.js';
import { ssoRoutes } from '../http/routes/sso-routes.js';
import { createLinuxAgentConnector } from '../connectors/linux-agent/linux-agent-connector.js';
import { createLinuxAgentUsersConnector } from '../connectors/linux-agent/linux-agent-users-connector.js';
import type { Metrics } from '../metrics/metrics.js';
import { metricsRoutes } from '../http/routes/metrics-routes.js';
import { createKeyedLimiter } from '../scheduler/keyed-limiter.js';
import { createScheduler, type Scheduler } from '../scheduler/scheduler.js';
import { releaseLeasesOf } from '../scheduler/work-queue.js';
import { createSecretBox } from '../secrets/envelope.js';
import { loadMasterKey } from '../secrets/master-key.js';
import { openStore, type Store } from '../store/db.js';
import { databaseUrlProblem } from '../store/database-url-problem.js';
import { inProcessAgentPush, startAgentPush } from '../app/agent-push.js';
import { loadServerConfig, type ServerConfig } from './config.js';
import { loadGatewayConfig } from '../gateway/gateway-config.js';
import type { Gateway } from '../gateway/gateway-server.js';
import { localRecordingStore } from '../gateway/recording-store.js';
import { createRetentionSweeper } from '../gateway/recording-retention.js';
import { gatewayRoutes } from '../http/routes/gateway-routes.js';
import { gatewayLiveRoutes } from '../http/routes/gateway-live-routes.js';
import { inProcessLiveFeed, postgresLiveFeed } from '../gateway/live-feed.js';

export interface Timebox {
  url: string;
  app: ZodApp;
  store: Store;
  deps: AppDeps;
  scheduler: Scheduler;
  /** The tenants' CAs and the SSH certificate, X.509 certificate and token engines. */
  credentials: CredentialEngines;
  /** Sends queued email and webhooks; tests drain it. */
  dispatcher: { drain(): Promise<number> };
  /** The audit sealer (tests seal on demand), the checkpoint key and the witnesses. */
  audit: { sealer: AuditSealer; signing: AuditSigningKey; trust: AuditTrust };
  /** Sealed audit events to the operator's SIEM sinks (none configured: an idle streamer). */
  siem: SiemStreamer;
  /** The SSH gateway, when TIMEBOX_GATEWAY_PORT is set. */
  gateway: Gateway | null;
  /** Set on the very first start only: the first owner's password, to print once. */
  bootstrap: BootstrapCredentials | null;
  close(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  clock?: Clock;
  logger?: Logger;
  /** Extra connectors (later issues add kinds here). */
  connectors?: ConnectorDefinition<any>[];
  /** Do not listen (tests use app.inject). */
  listen?: boolean;
  /** Live-update stream pacing (tests make it fast). */
  events?: { pollMs?: number; heartbeatMs?: number };
}

export async function startTimebox(opts: StartOptions = {}): Promise<Timebox> {
  const env = opts.env ?? process.env;
  const config: ServerConfig = loadServerConfig(env);
  const gatewayConfig = loadGatewayConfig(env);
  let gateway: Gateway | null = null;
  const clock = opts.clock ?? systemClock;
  const log = opts.logger ?? pino({ level: config.TIMEBOX_LOG_LEVEL, base: { service: 'timebox' } });

  // Settings that name files or peers are checked before anything is created on disk: a start
  // refused for a setting leaves nothing behind.
  const outbound = createOutboundPolicy({ allow: config.TIMEBOX_OUTBOUND_ALLOW });
  const siemSinks = siemSinksFromConfig(config, outbound);

  const embedded = !config.DATABASE_URL;
  // The folder holds the database and the master key: nobody else on the host may read it.
  if (embedded) await mkdir(config.TIMEBOX_DATA_DIR, { recursive: true, mode: 0o700 });
  const masterKey = await loadMasterKey({ env, dataDir: config.TIMEBOX_DATA_DIR });
  if (masterKey.created) log.warn({ dir: config.TIMEBOX_DATA_DIR }, 'created a new master key file; back it up: without it stored secrets cannot be read');
  // Before the store: a signing key set but unusable stops the start before a database is created.
  const signing = await loadAuditSigningKey({ env, dataDir: config.TIMEBOX_DATA_DIR });
  if (signing.created) log.warn({ dir: config.TIMEBOX_DATA_DIR, keyId: signing.keyId }, 'created a new audit signing key file; publish its public key (timebox audit public-key) to auditors');
  const store = await openStore(
    embedded
      ? { dataDir: config.TIMEBOX_DATA_DIR }
      : { databaseUrl: config.DATABASE_URL, onConnectionLost: (err) => log.warn({ err }, 'store: a database connection was lost; a new one is opened on next use') },
  ).catch((err: unknown) => {
    throw embedded ? err : (databaseUrlProblem(config.DATABASE_URL!, err) ?? err);
  });

  const audit = createAuditLog({ clock });
  const witnesses = [fileWitness(config.TIMEBOX_AUDIT_WITNESS_FILE ?? join(config.TIMEBOX_DATA_DIR, WITNESS_FILE))];
  const auditTrust: AuditTrust = { trustedKeys: new Map([[signing.keyId, signing.publicKey]]), witnesses };
  const secrets = createSecretBox(masterKey.key);
  let url = '';
  // The tokens' issuer must not change while tokens live: not with a restart on another port, nor
  // between replicas. Configured, else the public URL, else this installation's own name.
  const issuer =
    config.TIMEBOX_TOKEN_ISSUER ?? config.TIMEBOX_PUBLIC_URL?.replace(/\/+$/, '') ?? `urn:timebox:${await installationId(store.db)}`;
  const credentials = createCredentialEngines({
    db: store.db,
    box: secrets,
    clock,
    audit,
    tokenIssuer: issuer,
    // Enrolled agents refresh their hosts' SSH trust files as soon as it changes.
    onTrustChange: signalSshTrustChange,
  });
  // One definition per kind of the core's TargetKind union: the compiler checks none is missing.
  const kinds: KindRegistry = {
    postgres: postgresConnector,
    mariadb: mariadbConnector,
    'active-directory': activeDirectoryConnector,
    'active-directory-groups': activeDirectoryGroupMembershipConnector,
    'linux-agent': createLinuxAgentConnector({ db: store.db, secrets, clock }),
    'linux-agent-users': createLinuxAgentUsersConnector({ db: store.db, secrets, clock }),
    'ssh-certificate': sshCertificateConnector,
    'x509-certificate': x509CertificateConnector,
    'security-token': securityTokenConnector,
  };
  const extras = [...(opts.connectors ?? []), ...(config.TIMEBOX_ENABLE_FAKE_CONNECTOR === 'true' ? [fakeConnector] : [])];
  const hub = createConnectorHub(createRegistry(kinds, extras), { credentials, clock, outbound });
  const retry = {
    baseMs: config.TIMEBOX_RETRY_BASE_MS,
    maxMs: Math.max(config.TIMEBOX_RETRY_BASE_MS, 5 * 60_000),
    maxAttempts: config.TIMEBOX_REVOKE_MAX_ATTEMPTS,
    slowRetryMs: config.TIMEBOX_SLOW_RETRY_MS,
  };
  // Stable across restarts of the same server (host and port), so a restart can take back its
  // own leases at once; random when the port is chosen by the OS.
  const workerId =
    config.TIMEBOX_WORKER_ID ?? (config.PORT !== 0 ? `${hostname()}:${config.PORT}` : `${hostname()}-${randomUUID().slice(0, 8)}`);

  // Every replica serves its own process figures; the database-derived gauges read the shared
  // database, so they are the same from any replica. Without a scrape token nobody can read them:
  // nothing is recorded and prom-client is not loaded.
  const metrics: Metrics | null = config.TIMEBOX_METRICS_TOKEN
    ? (await import('../metrics/metrics.js')).createMetrics({
        db: store.db,
        clock,
        log,
        statementTimeout: store.kind === 'postgres',
        sealLagSeconds: () => oldestUnsealedAgeSeconds(store.db, clock),
        // Read at scrape time, once the streamer below exists.
        siemBacklog: siemSinks.length > 0 ? () => siem.backlog() : undefined,
      })
    : null;

  let scheduler: Scheduler | null = null;
  const deps: AppDeps = {
    db: store.db,
    audit,
    secrets,
    clock,
    log,
    connectors: hub,
    retry,
    targetLimiter: createKeyedLimiter({ total: 64, perKey: 8 }),
    workerId,
    poke: (dueAt) => scheduler?.poke(dueAt),
    outbound,
    ...(metrics ? { metrics: metrics.recorder } : {}),
    // Replicas share PostgreSQL: each listens for the others' agent changes. Embedded: one process.
    agentPush: config.DATABASE_URL ? startAgentPush({ databaseUrl: config.DATABASE_URL, log }) : inProcessAgentPush,
  };
  scheduler = createScheduler({
    db: store.db,
    clock,
    log,
    workerId,
    retry,
    sweepMs: config.TIMEBOX_SWEEP_MS,
    handlers: {
      activate: createActivateJob(deps),
      revoke: createRevokeJob(deps),
      pending_timeout: createPendingTimeoutJob(deps),
      expiry_warning: createExpiryWarningJob(deps),
    },
    batchHandlers: { revoke: createRevokeBatchJob(deps) },
  });
  const sched = scheduler;
  deps.notifier = createNotifier(deps);
  // Messages go out on their own loop: a slow mail relay never delays a revocation.
  const dispatcher = createNotificationDispatcher({ db: store.db, secrets: deps.secrets, clock, log, workerId, outbound });

  const released = await releaseLeasesOf(store.db, workerId);
  if (released > 0) log.warn({ released, workerId }, 'took back scheduled work held when this server last stopped');
  const routeDeps = { ...deps, runNow: sched.runNow };
  const sealer = createAuditSealer({
    db: store.db,
    clock,
    log,
    workerId,
    signer: signing,
    witnesses,
    pollMs: config.TIMEBOX_AUDIT_SEAL_MS,
    checkpointEvery: config.TIMEBOX_AUDIT_CHECKPOINT_EVENTS,
    checkpointMs: config.TIMEBOX_AUDIT_CHECKPOINT_MS,
    recheckMs: config.TIMEBOX_AUDIT_RECHECK_MS,
  });
  // Gateway recordings past their tenant's retention: one sweeper per deployment (a lease).
  const recordings = localRecordingStore(gatewayConfig.recordingsDir);
  const retention = createRetentionSweeper({ db: store.db, clock, audit: deps.audit, log, workerId, recordings });
  // Sealed events to the SIEM on their own loops: a collector that is down never delays a grant.
  const siem = createSiemStreamer({ db: store.db, clock, log, workerId }, siemSinks, {
    batchSize: config.TIMEBOX_SIEM_BATCH,
    pollMs: config.TIMEBOX_SIEM_POLL_MS,
    retryBaseMs: config.TIMEBOX_SIEM_RETRY_BASE_MS,
    retryMaxMs: config.TIMEBOX_SIEM_RETRY_MAX_MS,
  });
  const reconciler = createReconciler(deps);
  // Targets with failed revocations are probed every few seconds; revoked within ~15 s of their return.
  const targetProbe = createTargetProbe(deps);
  // Watched sessions' output, from whichever gateway holds them (live-feed.ts).
  const liveFeed = config.DATABASE_URL ? postgresLiveFeed({ databaseUrl: config.DATABASE_URL, log }) : inProcessLiveFeed();
  const offboarding = createOffboarding({ ...deps, tokens: createTokens({ db: store.db, audit: deps.audit, clock }) });
  const app = await createHttpServer({
    memberRemoval: offboarding.memberRemoval,
    db: store.db,
    audit: deps.audit,
    clock,
    logger: log,
    trustProxy: config.TIMEBOX_TRUST_PROXY,
    secureCookies: config.TIMEBOX_SECURE_COOKIES === 'true',
    publicUrl: config.TIMEBOX_PUBLIC_URL,
    secrets: deps.secrets,
    ...(metrics ? { observeRequest: metrics.observeRequest } : {}),
    routes: [
      metricsRoutes({ metrics, token: config.TIMEBOX_METRICS_TOKEN }),
      targetRoutes(deps),
      targetKindRoutes(deps),
      policyRoutes(deps),
      groupRoutes(deps),
      grantRoutes(routeDeps),
      approvalRoutes(routeDeps),
      jitAccountRoutes(routeDeps),
      jitSettingsRoutes(deps, reconciler),
      auditRoutes(deps, { trust: auditTrust, signing }),
      notificationRoutes(deps),
      eventRoutes({ db: store.db, ...opts.events }),
      credentialRoutes({ db: store.db, credentials, clock }),
      agentRoutes(deps),
      gatewayRoutes({
        ...deps,
        recordings,
        address: () => gatewayConfig.publicAddress ?? (gateway ? `${gateway.host}:${gateway.port}` : null),
      }),
      gatewayLiveRoutes({ ...deps, recordings, liveFeed }),
      ssoRoutes({
        ...deps,
        memberRemoval: offboarding.memberRemoval,
        secureCookies: config.TIMEBOX_SECURE_COOKIES === 'true',
        publicUrl: () => config.TIMEBOX_PUBLIC_URL ?? (url || `http://${config.HOST}:${config.PORT}`),
      }),
      offboardingRoutes({ offboarding }),
      // Last: it answers every other GET with the dashboard.
      webRoutes({ distDir: config.TIMEBOX_WEB_DIR ?? defaultWebDir() }),
    ],
  });

  if (opts.listen !== false) {
    // A fleet reconnecting after a restart: with Node's default backlog (511) connections were reset
    // while the server was busy (150-440 of 10,000 agents in the fleet benchmark; none at 4,096).
    url = await app.listen({ port: config.PORT, host: config.HOST, backlog: 4096 });
  } else {
    await app.ready();
  }
  // The SSH server (ssh2) is loaded only where a gateway runs.
  if (gatewayConfig.port !== null) {
    const { startGatewayFromConfig } = await import('../gateway/start-gateway.js');
    gateway = await startGatewayFromConfig({ ...deps, liveFeed }, gatewayConfig);
  }
  // The first owner is created only once the server listens (and its gateway too): its password
  // is shown once, so a start that fails (a port in use) must not create it unseen.
  const bootstrap = await bootstrapIfEmpty(store.db, deps.audit, clock);
  // Overdue work from before a restart runs at once.
  sched.start();
  reconciler.start(config.TIMEBOX_RECONCILE_MS);
  targetProbe.start();
  dispatcher.start();
  sealer.start();
  siem.start();
  retention.start();
  // Retiring CAs whose credentials have all ended stop being published (reads also do this lazily).
  const retireTimer = setInterval(() => {
    credentials.cas.retireDrained().catch((err: unknown) => log.warn({ err }, 'retiring drained certificate authorities failed'));
  }, 10 * 60_000);
  retireTimer.unref();
  log.info({ url, store: store.kind, workerId }, 'timebox ready');

  let closed = false;
  return {
    url,
    app,
    store,
    deps,
    scheduler: sched,
    credentials,
    dispatcher,
    audit: { sealer, signing, trust: auditTrust },
    siem,
    gateway,
    bootstrap,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(retireTimer);
      await gateway?.close();
      await app.close();
      await liveFeed.close();
      await sched.stop();
      await reconciler.stop();
      await targetProbe.stop();
      await dispatcher.stop();
      await siem.stop();
      await retention.stop();
      await sealer.stop();
      await deps.agentPush?.stop();
      await hub.closeAll();
      await store.close();
    },
  };
}
