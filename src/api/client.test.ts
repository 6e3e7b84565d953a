/** The typed client: the request it builds from the table, and drift caught when answers are checked. */
import { describe, expect, it } from 'vitest';
import { ContractDriftError, createApiClient, type WireRequest } from './client.js';

const grant = {
  id: '0b6f4c1e-6a1e-4f7e-9d3c-2f6a0e8b1c2d',
  state: 'active',
  targetId: 't1',
  targetName: 'orders-db',
  operatorId: 'o1',
  operatorEmail: 'ana@example.com',
  username: 'ana_jit',
  entitlements: ['readers'],
  reason: 'INC-42',
  durationSeconds: 3600,
  requestedStartAt: null,
  startsAt: '2026-01-01T10:00:00.000Z',
  expiresAt: '2026-01-01T11:00:00.000Z',
  revokedAt: null,
  endReason: null,
  lastError: null,
  revokeAttempts: 0,
  credentialAvailable: true,
  gatewayOnly: false,
  ticket: null,
  emergency: false,
  policyId: null,
  approvalLevel: 0,
  createdAt: '2026-01-01T10:00:00.000Z',
};

function clientAnswering(body: unknown, checkResponses = true) {
  const sent: WireRequest[] = [];
  const api = createApiClient({
    checkResponses,
    transport: async (r) => {
      sent.push(r);
      return { status: 200, body };
    },
  });
  return { api, sent };
}

describe('the typed client', () => {
  it('builds method, path (params encoded), query and body from the table entry', async () => {
    const { api, sent } = clientAnswering(grant);
    await api.call('revokeGrant', { params: { tenant: 'acme', grantId: 'a/b' }, body: { reason: 'done' } });
    expect(sent).toEqual([{ method: 'POST', path: '/api/v1/tenants/acme/grants/a%2Fb/revoke', query: undefined, body: { reason: 'done' } }]);
  });

  it('answers the parsed grant when it matches the contract (fields the contract lacks are dropped)', async () => {
    const { api } = clientAnswering({ ...grant, extra: 'x' });
    const g = await api.call('getGrant', { params: { tenant: 'acme', grantId: grant.id } });
    expect(g).toEqual(grant);
  });

  it('fails loudly, naming the field, when an answer drifted from the contract', async () => {
    const { expiresAt: _gone, ...drifted } = grant;
    const { api } = clientAnswering({ ...drifted, state: 'paused' });
    const call = api.call('getGrant', { params: { tenant: 'acme', grantId: grant.id } });
    await expect(call).rejects.toBeInstanceOf(ContractDriftError);
    await expect(call).rejects.toThrow(/getGrant .*state: .*expiresAt/);
  });

  it('answers nothing for 204 No Content', async () => {
    const api = createApiClient({ checkResponses: true, transport: async () => ({ status: 204, body: undefined }) });
    await expect(api.call('enableMember', { params: { tenant: 'acme', operatorId: 'o1' } })).resolves.toBeUndefined();
  });

  it('does not check when told not to (production)', async () => {
    const { api } = clientAnswering({ state: 'paused' }, false);
    await expect(api.call('getGrant', { params: { tenant: 'acme', grantId: grant.id } })).resolves.toEqual({ state: 'paused' });
  });

  it('follows nextCursor across pages up to the maximum', async () => {
    const pages = [
      { items: [1, 2], nextCursor: 'c1' },
      { items: [3, 4], nextCursor: 'c2' },
    ];
    const sent: WireRequest[] = [];
    const api = createApiClient({
      checkResponses: false,
      transport: async (r) => {
        sent.push(r);
        return { status: 200, body: pages[sent.length - 1] };
      },
    });
    const r = await api.pages('listTargets', { params: { tenant: 'acme' } }, 3);
    expect(r).toEqual({ items: [1, 2, 3, 4], nextCursor: 'c2' });
    expect(sent.map((s) => s.query)).toEqual([
      { limit: 3, cursor: undefined },
      { limit: 1, cursor: 'c1' },
    ]);
  });
});
