/**
 * A syslog collector's acceptance (its clean close) shows it read a batch, not that it kept it:
 * rsyslog stopped just as a batch arrives reads it, closes cleanly and drops it (reproduced with
 * the real rsyslog; the timing cannot be forced from a test). Modelled here by a collector that
 * accepts one batch without keeping it and then is down: when it is back, every sealed event must
 * reach it, the dropped batch included, because the streamer sends the batch accepted just before
 * a failure again (receivers dedupe on the event id). Real store, real sealer, real streamer.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSiemStreamer, type SiemSink, type SiemStreamer } from '../../src/siem/siem-streamer.js';
import type { ExportedEvent } from '../../src/siem/exported-event.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let server: TestServer;
let streamer: SiemStreamer | null = null;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await streamer?.stop();
  await server?.close();
});

/** A collector whose acceptance may be lost: up (keeps), dropping (accepts one batch, keeps nothing, goes down), down. */
function lossyCollector() {
  const kept = new Map<string, number>();
  let mode: 'up' | 'dropping' | 'down' = 'up';
  let refused = 0;
  const sink: SiemSink = {
    name: `lossy-${randomBytes(3).toString('hex')}`,
    describe: 'a collector that may drop what it accepted',
    acceptanceMayBeLost: true,
    async send(events: readonly ExportedEvent[]) {
      if (mode === 'down') {
        refused++;
        throw new Error('connection refused');
      }
      if (mode === 'dropping') {
        mode = 'down';
        return;
      }
      for (const e of events) kept.set(e.id, (kept.get(e.id) ?? 0) + 1);
    },
  };
  return { sink, kept, refusedSoFar: () => refused, set: (m: typeof mode) => (mode = m) };
}

/** Audited actions (API tokens created), sealed at once. */
async function events(n: number) {
  for (let i = 0; i < n; i++) expect((await server.admin.post('/api/v1/tokens', { name: `siem-${i}` })).status).toBe(201);
  await server.tb.audit.sealer.sealNow();
}

async function sealedIds(): Promise<string[]> {
  const r = await sql<{ id: string }>`SELECT id FROM audit_events WHERE chain_pos IS NOT NULL`.execute(server.tb.store.db);
  return r.rows.map((x) => x.id);
}

async function until(what: () => string, check: () => Promise<boolean> | boolean, ms = 20_000) {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('a batch accepted and dropped by a collector going down reaches it once it is back', async () => {
  const c = lossyCollector();
  const { log, clock } = server.tb.deps;
  streamer = createSiemStreamer({ db: server.tb.store.db, clock, log, workerId: 'siem-test' }, [c.sink], { batchSize: 1_000, pollMs: 20, retryBaseMs: 20, retryMaxMs: 100 });
  streamer.start();
  await events(3);
  const lacking = async () => (await sealedIds()).filter((id) => !c.kept.has(id));
  await until(() => 'the collector to hold the first events', async () => (await lacking()).length === 0);

  // The next batch is read and dropped, then the collector is down: the following sends fail.
  const deliveredBefore = streamer.stats()[0]!.delivered;
  c.set('dropping');
  await events(3);
  await until(() => 'a batch to be accepted and dropped', () => streamer!.stats()[0]!.delivered > deliveredBefore);
  const droppedIds = await lacking();
  expect(droppedIds.length).toBeGreaterThan(0);
  await events(2);
  await until(() => 'a delivery refused while the collector is down', () => c.refusedSoFar() > 0);

  c.set('up');
  await events(2);
  await until(
    () => `the collector to hold every sealed event (the ${droppedIds.length} accepted and dropped among them)`,
    async () => (await lacking()).length === 0,
  );
  for (const id of droppedIds) expect(c.kept.get(id)).toBe(1);
});
