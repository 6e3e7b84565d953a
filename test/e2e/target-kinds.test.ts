/**
 * GET /target-kinds: every kind the server registers is served once, with the config's JSON Schema
 * generated from the same zod schema the server validates with. A JSON Schema validator accepts a
 * known-good config of each kind and refuses a bad one, and the name rules served as data never
 * accept a name the connector itself refuses.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TARGET_KINDS, accountNameRuleBroken, type AccountNameRules } from '../../src/core/target-kinds.js';
import { kindSamples as samples } from '../support/kind-samples.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

interface KindView {
  kind: string;
  label: string;
  help: string;
  accountName: string;
  capabilities: Record<string, boolean>;
  accountNameRules: AccountNameRules;
  configSchema: Record<string, unknown>;
}

it('serves every registered kind once, with labels, capabilities, name rules and a JSON Schema that judges configs like the server', async () => {
  const res = await server.admin.get<{ items: KindView[] }>('/api/v1/target-kinds');
  expect(res.status).toBe(200);
  const kinds = res.body.items.map((k) => k.kind);
  expect([...kinds].sort()).toEqual([...TARGET_KINDS].sort());

  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  for (const k of res.body.items) {
    const name = k.kind as (typeof TARGET_KINDS)[number];
    expect(k.label.length, name).toBeGreaterThan(2);
    expect(k.help.length, name).toBeGreaterThan(20);
    expect(Object.keys(k.capabilities).sort()).toEqual(['canRotate', 'endsSessions', 'jitAccounts', 'nativeExpiry']);
    const validate = ajv.compile(k.configSchema);
    expect(validate(samples[name].good), `${name} good: ${JSON.stringify(validate.errors)}`).toBe(true);
    expect(validate(samples[name].bad), `${name} bad`).toBe(false);
    // Every field of the form has words for a person.
    for (const [key, field] of Object.entries(k.configSchema.properties as Record<string, { title?: string }>)) {
      expect(field.title, `${name}.${key}`).toEqual(expect.any(String));
    }
  }
  // Secrets are marked, so a form never shows them back.
  const pg = res.body.items.find((k) => k.kind === 'postgres')!;
  expect((pg.configSchema.properties as Record<string, { writeOnly?: boolean }>).password!.writeOnly).toBe(true);
  expect(pg.accountNameRules).toMatchObject({ maxLength: 63, reservedPrefixes: ['pg_'] });
  expect(pg.accountNameRules.reserved).toContain('public');
  expect(res.body.items.find((k) => k.kind === 'mariadb')!.accountNameRules.maxLength).toBe(80);
  expect(res.body.items.find((k) => k.kind === 'ssh-certificate')!.accountName).toBe('requester');
});

it('the server agrees: the good sample of each kind passes its config validation and the bad one is refused at its field', async () => {
  for (const kind of ['postgres', 'mariadb', 'x509-certificate'] as const) {
    const bad = await server.admin.post('/api/v1/tenants/default/targets', { name: `bad-${kind}`, kind, config: samples[kind].bad });
    expect(bad.status, kind).toBe(400);
    expect(bad.body.error.details.issues[0].path).toMatch(/^config\./);
  }
});

it('name rules served as data never accept a name the connector refuses', async () => {
  const { items } = (await server.admin.get<{ items: KindView[] }>('/api/v1/target-kinds')).body;
  const { tb } = server;
  const names = ['ann_jit', 'Ann', 'a', 'ab', 'pg_admin', 'public', 'root', 'mysql_x', 'x'.repeat(90), 'bob;drop', 'ann.jit', 'ann@example.com', 'daemon', 'systemd-x', '_x', 'administrator', 'dot.'];
  for (const k of items) {
    const definition = tb.deps.connectors.definition(k.kind)!;
    for (const n of [...names, ...k.accountNameRules.reserved]) {
      if (accountNameRuleBroken(k.accountNameRules, n) !== null) expect(definition.validateAccountName(n), `${k.kind} ${n}`).toEqual(expect.any(String));
    }
  }
});
