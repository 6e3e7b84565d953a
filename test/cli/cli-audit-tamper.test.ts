/** `timebox audit verify` passes on an intact log and fails (exit 1) after an event is edited by hand. */
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiLogin, apiPost, runCli, startTestServer, type TestServer } from './harness.js';

let server: TestServer;
let env: Record<string, string>;

beforeAll(async () => {
  server = await startTestServer();
  const token = await apiLogin(server);
  await apiPost(server, token, '/api/v1/tenants/default/targets', {
    name: 'ledger',
    kind: 'fake',
    config: { instance: `tamper-${randomUUID()}`, entitlements: ['readers'] },
  });
  env = { TIMEBOX_CONFIG: `${server.dir}/cli.json`, TIMEBOX_SERVER: server.url, TIMEBOX_TOKEN: token };
});
afterAll(async () => server?.close());

describe('timebox audit verify', () => {
  it('detects an event edited by someone with database rights', async () => {
    await server.tb.audit.sealer.sealNow({ checkpoint: true });
    const ok = await runCli(['audit', 'verify'], { env });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/Audit log intact: \d+ events checked in \d+ chain\(s\)/);
    const mine = await runCli(['audit', 'verify', '--tenant-only'], { env });
    expect(mine.stdout).toMatch(/Audit log intact: \d+ events checked in 1 chain\(s\), 1 matching a signed checkpoint/);
    const key = await runCli(['audit', 'public-key'], { env });
    expect(key.stdout).toBe(server.tb.audit.signing.publicKeyPem);

    const db = server.tb.store.db;
    const row = await db.selectFrom('audit_events').select(['seq', 'chain_pos']).where('action', '=', 'target.created').executeTakeFirstOrThrow();
    expect(row.chain_pos).not.toBeNull();
    // The table refuses edits; a hand-editor with DBA rights switches the guard off first.
    await sql`ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update`.execute(db);
    await sql`UPDATE audit_events SET reason = 'nothing to see here' WHERE seq = ${row.seq}`.execute(db);
    await sql`ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update`.execute(db);

    const bad = await runCli(['audit', 'verify'], { env });
    expect(bad.code).toBe(1);
    // Named as people know the tenant (its slug), not by its id.
    expect(bad.stdout).toContain(`tenant default position ${row.chain_pos}: content does not match its hash`);
    const json = await runCli(['audit', 'verify', '--json'], { env });
    const report = JSON.parse(json.stdout) as { problems: Array<{ tenant_slug: string | null }>; chains: Array<{ tenant_id: string | null; tenant_slug: string | null }> };
    expect(report.problems[0]!.tenant_slug).toBe('default');
    expect(report.chains.find((c) => c.tenant_id === null)?.tenant_slug).toBeNull();
    expect(bad.stdout).toMatch(/problem\(s\) found/);
  });
});

describe('timebox audit export', () => {
  it('counts events and signed checkpoints apart, and the file holds exactly those lines', async () => {
    await server.tb.audit.sealer.sealNow({ checkpoint: true });
    const out = `${server.dir}/export.jsonl`;
    const r = await runCli(['audit', 'export', '--out', out, '--json'], { env });
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { events: number; checkpoints: number };
    const lines = (await readFile(out, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const checkpointLines = lines.filter((l) => 'checkpoint' in l).length;
    expect(checkpointLines).toBeGreaterThan(0);
    expect(summary).toEqual({ file: out, events: lines.length - checkpointLines, checkpoints: checkpointLines });

    // A failed export leaves an earlier file of that name as it was, and no partial file beside it.
    const earlier = await readFile(out, 'utf8');
    const failed = await runCli(['--tenant', 'nope', 'audit', 'export', '--out', out], { env });
    expect(failed.code).toBe(4);
    expect(await readFile(out, 'utf8')).toBe(earlier);
    expect((await readdir(server.dir)).filter((f) => f.endsWith('.partial'))).toEqual([]);
    const intoDir = await runCli(['audit', 'export', '--out', server.dir], { env });
    expect(intoDir.code).not.toBe(0);
    expect(intoDir.stderr).toContain(`cannot write ${server.dir}: it is a directory; name a file`);

    const filtered = await runCli(['audit', 'export', '--out', `${server.dir}/targets.jsonl`, '--action', 'target.*'], { env });
    expect(filtered.stdout).toMatch(/^Exported 1 audit event\(s\) and 0 signed checkpoint\(s\) to .*targets\.jsonl \(checkpoints are exported only without --action and --since/);
  });
});
