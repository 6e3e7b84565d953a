/**
 * Test-only composition for the dashboard: a real Timebox (startTimebox: store, scheduler,
 * connectors, shiftable clock) whose HTTP server is built with the same route modules as
 * src/server/start.ts plus the event stream and the dashboard built for the run. Also: launching
 * Debian's chromium through playwright-core, one browser at a time on this machine (test files run
 * in parallel workers; two chromiums would starve a small machine).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { inject } from 'vitest';
import type { ZodApp } from '../../src/http/server.js';
import { startTimebox, type Timebox } from '../../src/server/start.js';
import { repoRoot } from '../harness/build.js';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { signIn, signInFirstOwner, type ApiClient } from '../support/http.js';
import { shiftableClock } from '../support/test-server.js';

export const screenshotDir = join(repoRoot, 'test-artifacts', 'screenshots');

/** This run's build of the dashboard (made once by the global setup, see spa-build.ts). */
export const builtSpa = (): string => inject('spaDir');

export interface WebServer {
  url: string;
  tb: Timebox;
  app: ZodApp;
  clock: ReturnType<typeof shiftableClock>;
  /** The bootstrap owner (platform admin), through the API. */
  admin: ApiClient;
  adminLogin: { email: string; password: string };
  close(): Promise<void>;
}

export async function startWebServer(opts: {
  adminUrl: string;
  distDir: string;
  env?: Record<string, string>;
  pollMs?: number;
  heartbeatMs?: number;
  /** False: leave the printed password for the test to change (admin is then signed in but may do nothing else). */
  firstPasswordChanged?: boolean;
}): Promise<WebServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'timebox-web-data-'));
  const store: TestDatabase = await createTestDatabase(opts.adminUrl);
  const clock = shiftableClock();
  const tb = await startTimebox({
    clock,
    events: { pollMs: opts.pollMs, heartbeatMs: opts.heartbeatMs },
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      TIMEBOX_DATA_DIR: dataDir,
      DATABASE_URL: store.url,
      TIMEBOX_LOG_LEVEL: process.env.TIMEBOX_TEST_LOG ?? 'silent',
      TIMEBOX_MASTER_KEY: randomBytes(32).toString('base64'),
      TIMEBOX_WEB_DIR: opts.distDir,
      // Every test target, relay and receiver listens on this host.
      TIMEBOX_OUTBOUND_ALLOW: 'loopback',
      ...opts.env,
    },
  });
  if (!tb.bootstrap) throw new Error('expected a fresh store with a bootstrap owner');
  const app = tb.app;
  const url = tb.url;
  const adminLogin = { email: tb.bootstrap.email, password: tb.bootstrap.password };
  // The printed password is changed at first sign-in; adminLogin keeps the new one.
  const admin = opts.firstPasswordChanged === false ? await signIn(url, adminLogin.email, adminLogin.password) : await signInFirstOwner(url, adminLogin);
  return {
    url,
    tb,
    app,
    clock,
    admin,
    adminLogin,
    async close() {
      await tb.close();
      await store.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A machine-wide turn for chromium: holding it means listening on an abstract Unix socket (gone
 * with the process, so a crashed run never leaves it taken). Whoever waits stays connected to
 * the holder and tries again the moment that connection closes.
 */
const TURN = '\0timebox-web-chromium';

async function chromiumTurn(): Promise<() => Promise<void>> {
  for (;;) {
    const server = createServer();
    const held = new Set<Socket>();
    server.on('connection', (s) => {
      held.add(s);
      s.on('close', () => held.delete(s));
    });
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen({ path: TURN }, () => resolve(true));
    });
    if (ok) {
      return () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of held) s.destroy();
        });
    }
    await new Promise<void>((resolve) => {
      const s = connect({ path: TURN });
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
  }
}

export async function launchChromium(): Promise<Browser> {
  const release = await chromiumTurn();
  try {
    const browser = await chromium.launch({
      executablePath: process.env.TIMEBOX_TEST_CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    browser.on('disconnected', () => void release());
    return browser;
  } catch (err) {
    await release();
    throw err;
  }
}
