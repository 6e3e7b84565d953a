/**
 * The contract (src/api/endpoints.ts) and the server agree: every route the server registers is an
 * entry of the table, and every entry is registered, with the same method and path. The whole
 * server is started as in production (every route module), on the embedded store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../api/endpoints.js';
import { startTimebox, type Timebox } from '../server/start.js';
import { seedDataDir } from '../../test/harness/pglite-template.js';

/**
 * The dashboard's client-side routes: not part of the API. Its built files would each be a route
 * too; the server here serves an empty dashboard folder, so there are none.
 */
const DASHBOARD_FILES = new Set(['GET /*']);

let tb: Timebox;
let dataDir: string;

beforeAll(async () => {
  dataDir = await seedDataDir(await mkdtemp(join(tmpdir(), 'timebox-contract-')));
  tb = await startTimebox({
    listen: false,
    env: {
      TIMEBOX_DATA_DIR: dataDir,
      TIMEBOX_WEB_DIR: await mkdtemp(join(dataDir, 'web-')),
      TIMEBOX_LOG_LEVEL: 'silent',
      TIMEBOX_MASTER_KEY: randomBytes(32).toString('base64'),
    },
  });
}, 120_000);
afterAll(async () => {
  await tb?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the endpoint table and the registered routes', () => {
  it('every registered route is in the table', () => {
    const inTable = new Set(Object.values(endpoints).map((e) => `${e.method} ${e.path}`));
    expect(tb.app.registeredRoutes.length).toBeGreaterThanOrEqual(Object.keys(endpoints).length);
    const missing = tb.app.registeredRoutes.filter((r) => !DASHBOARD_FILES.has(r) && !inTable.has(r));
    expect(missing, 'routes registered without an entry in src/api/endpoints').toEqual([]);
  });

  it('every entry of the table is registered', () => {
    const registered = new Set(tb.app.registeredRoutes);
    const unserved = Object.entries(endpoints)
      .filter(([, e]) => !registered.has(`${e.method} ${e.path}`))
      .map(([key, e]) => `${key}: ${e.method} ${e.path}`);
    expect(unserved, 'entries of src/api/endpoints no route serves').toEqual([]);
  });

  it('no two entries name the same route', () => {
    const routes = Object.values(endpoints).map((e) => `${e.method} ${e.path}`);
    expect(routes.length).toBe(new Set(routes).size);
  });
});
