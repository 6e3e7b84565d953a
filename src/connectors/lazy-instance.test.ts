import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { ConnectorInstance } from './contract.js';
import { lazyInstance } from './lazy-instance.js';

const ctx = { log: pino({ level: 'silent' }) };

function loadedWith(extra: Partial<ConnectorInstance>, closed: string[] = []) {
  const instance: ConnectorInstance = {
    check: async () => ({ ok: true, items: [] }),
    listEntitlements: async () => ({ items: [{ externalId: 'readers', displayName: 'readers' }], nextCursor: null }),
    grant: async () => ({ handle: { username: 'a_jit' }, credential: null }),
    revoke: async () => {},
    verify: async () => ({ state: 'absent', findings: [] }),
    close: async () => void closed.push('closed'),
    ...extra,
  };
  return instance;
}

describe('a connector instance loaded on its first call', () => {
  it('loads nothing until a call, then once, and forwards to the loaded instance', async () => {
    let loads = 0;
    const lazy = lazyInstance(['entitlementExists'], async () => {
      loads++;
      return loadedWith({ entitlementExists: async (_c, name) => name === 'readers' }) as ConnectorInstance & Required<Pick<ConnectorInstance, 'entitlementExists'>>;
    });
    expect(loads).toBe(0);
    expect(typeof lazy.entitlementExists).toBe('function');
    for (const m of ['rotate', 'deleteAccount', 'accountStatus', 'extend'] as const) expect(lazy[m], m).toBeUndefined();
    const [a, b] = await Promise.all([lazy.entitlementExists!(ctx, 'readers'), lazy.listEntitlements(ctx, { limit: 10 })]);
    expect(a).toBe(true);
    expect(b.items[0]!.externalId).toBe('readers');
    expect(loads).toBe(1);
  });

  it('closes what it loaded, and loads nothing to close an unused one', async () => {
    let loads = 0;
    const closed: string[] = [];
    const load = async () => {
      loads++;
      return loadedWith({}, closed);
    };
    await lazyInstance([], load).close();
    expect([loads, closed]).toEqual([0, []]);
    const used = lazyInstance([], load);
    await used.check(ctx);
    await used.close();
    expect([loads, closed]).toEqual([1, ['closed']]);
  });

  it('refuses a loaded instance whose optional methods differ from the declared ones', async () => {
    const lazy = lazyInstance([], async () => loadedWith({ rotate: async () => {} }));
    await expect(lazy.check(ctx)).rejects.toThrow(/declared optional methods: rotate/);
  });

  it('tries a failed load again on the next call', async () => {
    let loads = 0;
    const lazy = lazyInstance([], async () => {
      if (++loads === 1) throw new Error('not yet');
      return loadedWith({});
    });
    await expect(lazy.check(ctx)).rejects.toThrow('not yet');
    await expect(lazy.check(ctx)).resolves.toEqual({ ok: true, items: [] });
    expect(loads).toBe(2);
  });
});
