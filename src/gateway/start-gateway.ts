/**
 * Building a gateway from settings: inside `timebox serve` (when TIMEBOX_GATEWAY_PORT is set) from
 * the server's own store and secret box, or as `timebox gateway` on its own beside the replicas,
 * with the same DATABASE_URL and master key.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import { pino, type Logger } from 'pino';
import { createAuditLog } from '../audit/audit-log.js';
import type { AuditLog } from '../audit/types.js';
import { systemClock, type Clock } from '../core/clock.js';
import { createOutboundPolicy, type OutboundPolicy } from '../net/outbound-policy.js';
import { createSecretBox } from '../secrets/envelope.js';
import { loadMasterKey } from '../secrets/master-key.js';
import type { SecretBox } from '../secrets/types.js';
import { loadServerConfig } from '../server/config.js';
import { openStore } from '../store/db.js';
import type { Database } from '../store/schema.js';
import { loadGatewayConfig, type GatewayConfig } from './gateway-config.js';
import { startGateway, type Gateway } from './gateway-server.js';
import { localRecordingStore, type RecordingStore } from './recording-store.js';
import { inProcessLiveFeed, postgresLiveFeed, type LiveFeed } from './live-feed.js';

export interface GatewayHostDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
  audit: AuditLog;
  clock: Clock;
  log: Logger;
  outbound: OutboundPolicy;
  liveFeed?: LiveFeed;
}

export function recordingStoreFrom(config: GatewayConfig): RecordingStore {
  return localRecordingStore(config.recordingsDir);
}

/** A gateway on `port` (the setting's when not given), or null when none is configured. */
export async function startGatewayFromConfig(deps: GatewayHostDeps, config: GatewayConfig, port = config.port): Promise<Gateway | null> {
  if (port === null) return null;
  // Port 0 has no stable name: a random one, so a restart never claims another gateway's sessions.
  const gatewayId = config.gatewayId ?? (port === 0 ? `gateway-${randomUUID().slice(0, 8)}` : `gateway@${hostname()}:${port}`);
  return startGateway(
    {
      ...deps,
      log: deps.log.child({ component: 'gateway' }),
      recordings: recordingStoreFrom(config),
      gatewayId,
      recordInput: config.recordInput,
      flushMs: config.flushMs,
      pollMs: config.pollMs,
      loginGraceMs: config.loginGraceMs,
    },
    { host: config.host, port },
  );
}

/** `timebox gateway`: a gateway process of its own (default port 2222). */
export async function runGatewayProcess(env: Record<string, string | undefined> = process.env): Promise<{ gateway: Gateway; close(): Promise<void> }> {
  const server = loadServerConfig(env);
  const config = loadGatewayConfig(env);
  const log = pino({ level: server.TIMEBOX_LOG_LEVEL, base: { service: 'timebox-gateway' } });
  const masterKey = await loadMasterKey({ env, dataDir: server.TIMEBOX_DATA_DIR });
  const store = await openStore(
    server.DATABASE_URL
      ? { databaseUrl: server.DATABASE_URL, onConnectionLost: (err) => log.warn({ err }, 'store: a database connection was lost; a new one is opened on next use') }
      : { dataDir: server.TIMEBOX_DATA_DIR },
  );
  // Servers relaying the live view listen on the same database; alone on PGlite nobody can watch.
  const liveFeed = server.DATABASE_URL ? postgresLiveFeed({ databaseUrl: server.DATABASE_URL, log }) : inProcessLiveFeed();
  const gateway = await startGatewayFromConfig(
    {
      db: store.db,
      secrets: createSecretBox(masterKey.key),
      audit: createAuditLog({ clock: systemClock }),
      clock: systemClock,
      log,
      outbound: createOutboundPolicy({ allow: server.TIMEBOX_OUTBOUND_ALLOW }),
      liveFeed,
    },
    config,
    config.port ?? 2222,
  );
  return {
    gateway: gateway!,
    async close() {
      await gateway!.close();
      await liveFeed.close();
      await store.close();
    },
  };
}
