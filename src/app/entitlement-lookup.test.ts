import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ConnectorInstance } from '../connectors/contract.js';
import { ENTITLEMENT_SEEN_MS, entitlementSeen } from './entitlement-lookup.js';

/** A target whose groups can be added and removed, counting how often it is asked. */
function directory(groups: string[]) {
  const have = new Set(groups);
  let asked = 0;
  const instance = {
    entitlementExists: async (_ctx: unknown, name: string) => {
      asked++;
      return have.has(name);
    },
  } as unknown as ConnectorInstance;
  return { instance, have, asked: () => asked };
}

const ctx = { log: pino({ level: 'silent' }) };

describe('entitlementSeen: a request trusts a found entitlement for a minute', () => {
  it.each([
    ['asked again within the minute: the target is not asked', ENTITLEMENT_SEEN_MS - 1, 1, true],
    ['asked again once the minute has passed: the target is asked again', ENTITLEMENT_SEEN_MS, 2, false],
  ])('%s', async (_case, later, askedTimes, stillFound) => {
    const d = directory(['dba']);
    expect(await entitlementSeen(d.instance, ctx, 'dba', 1_000)).toBe(true);
    d.have.delete('dba');
    expect(await entitlementSeen(d.instance, ctx, 'dba', 1_000 + later)).toBe(stillFound);
    expect(d.asked()).toBe(askedTimes);
  });

  it('never remembers a "no": a group created a moment later is found at once', async () => {
    const d = directory([]);
    expect(await entitlementSeen(d.instance, ctx, 'dba', 0)).toBe(false);
    d.have.add('dba');
    expect(await entitlementSeen(d.instance, ctx, 'dba', 1)).toBe(true);
    expect(d.asked()).toBe(2);
  });

  it('a new instance (the target was reconfigured) asks afresh', async () => {
    const before = directory(['dba']);
    const after = directory([]);
    expect(await entitlementSeen(before.instance, ctx, 'dba', 0)).toBe(true);
    expect(await entitlementSeen(after.instance, ctx, 'dba', 1)).toBe(false);
  });
});
