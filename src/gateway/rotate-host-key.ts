/** `timebox gateway rotate-host-key`, run beside the server with its settings. */
import { createAuditLog } from '../audit/audit-log.js';
import { systemClock } from '../core/clock.js';
import { createSecretBox } from '../secrets/envelope.js';
import { loadMasterKey } from '../secrets/master-key.js';
import { loadServerConfig } from '../server/config.js';
import { openStore } from '../store/db.js';
import { rotateGatewayHostKey } from './gateway-keys.js';

export async function rotateHostKeyFromEnv(env: Record<string, string | undefined> = process.env) {
  const server = loadServerConfig(env);
  const masterKey = await loadMasterKey({ env, dataDir: server.TIMEBOX_DATA_DIR });
  const store = await openStore(server.DATABASE_URL ? { databaseUrl: server.DATABASE_URL } : { dataDir: server.TIMEBOX_DATA_DIR });
  try {
    return await rotateGatewayHostKey({ db: store.db, secrets: createSecretBox(masterKey.key), clock: systemClock, audit: createAuditLog({ clock: systemClock }) });
  } finally {
    await store.close();
  }
}
