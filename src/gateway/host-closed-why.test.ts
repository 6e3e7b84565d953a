import { describe, expect, it } from 'vitest';
import { hostClosedWhy } from './gateway-sessions.js';

const now = new Date('2026-12-07T12:00:00Z');
const end = { reason: 'host_closed' as const, sha256: 'x', bytes: 1, complete: true };

describe('a session the host closed', () => {
  it.each([
    ['the grant still active: the host closed it', { state: 'active', expires_at: new Date('2026-12-07T13:00:00Z') }, 'host_closed'],
    ['the grant revoked before its end (the agent removed the account first)', { state: 'revoking', expires_at: new Date('2026-12-07T13:00:00Z') }, 'grant_revoked'],
    ['the grant past its end', { state: 'expired', expires_at: new Date('2026-12-07T11:59:59Z') }, 'grant_ended'],
    ['no grant row', undefined, 'host_closed'],
  ] as const)('%s → %s', (_what, grant, reason) => {
    const why = hostClosedWhy(end, grant, now);
    expect(why.reason).toBe(reason);
    if (reason !== 'host_closed') expect(why.detail).toBe('the host closed the connection first');
  });
});
