/**
 * The part of the connector contract every registered kind keeps whatever it talks to, checked for
 * all of them (the shipped kinds of the core's TargetKind union) as a running server builds them:
 * a config its schema accepts yields an instance whose `check` reports a target that is down (or an
 * agent that was never enrolled) as findings instead of throwing; names that could break out of a
 * name are refused with words for a person; `rotate` exists exactly when the kind says it can
 * rotate; the account-name rules served as data agree with the connector's own judgement. What a
 * grant does is shown per kind against the real service: conformance.ts (login-shaped kinds),
 * credential-conformance.ts (credential-shaped kinds), membership-conformance.ts, and for the agent
 * kinds test/e2e/agent-conformance.test.ts.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TARGET_KINDS, accountNameRuleBroken } from '../../src/core/target-kinds.js';
import { kindSamples } from '../support/kind-samples.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const ctx = { log: pino({ level: 'silent' }) };
const hostileNames = ['bob;drop', "o'brien", 'a b', 'x"y', 'tab\tname', 'new\nline', '', 'x'.repeat(300), "'; DROP ROLE admin; --"];
const hostileEntitlements = ['', 'new\nline', "'; DROP ROLE admin; --", 'x'.repeat(600)];

it.each(TARGET_KINDS)('%s keeps the contract: check reports instead of throwing, hostile names refused, rotate as declared', async (kind) => {
  const definition = server.tb.deps.connectors.definition(kind)!;
  expect(definition.kind).toBe(kind);
  const instance = definition.create(definition.configSchema.parse(kindSamples[kind].good), { credentials: server.tb.credentials, clock: server.clock });
  try {
    const report = await instance.check(ctx);
    expect(report.items.length).toBeGreaterThan(0);
    for (const item of report.items) expect(item.message.length, JSON.stringify(item)).toBeGreaterThan(5);
    // Nothing listens on port 9 and no agent has the sample's id: only the credential kinds work offline.
    expect(report.ok).toBe(kind.endsWith('-certificate') || kind === 'security-token');
    expect(typeof instance.rotate === 'function').toBe(definition.capabilities.canRotate);
  } finally {
    await instance.close();
  }
  for (const bad of hostileNames) expect(definition.validateAccountName(bad), JSON.stringify(bad)).toMatch(/.{10,}/);
  for (const bad of hostileEntitlements) expect(definition.validateEntitlementName(bad), JSON.stringify(bad)).toMatch(/.{10,}/);
  for (const reserved of definition.accountNameRules.reserved) expect(definition.validateAccountName(reserved), reserved).not.toBeNull();
  for (const bad of hostileNames) expect(accountNameRuleBroken(definition.accountNameRules, bad), JSON.stringify(bad)).not.toBeNull();
  expect(definition.configSchema.safeParse(kindSamples[kind].bad).success).toBe(false);
});
