/**
 * The JIT accounts page shows each account in the state of one of its grants. With two grants
 * overlapping (a 20-minute one, then a 1-minute one that ran out), the account is still enabled:
 * the page must say so, not "Expired".
 */
import { describe, expect, it } from 'vitest';
import type { Grant } from '../../src/api/types.js';
import { accountKey, grantsTellingState } from '../../web/src/pages/account-grants.js';

const grant = (id: string, state: string, targetId = 't1', operatorId = 'ann'): Grant => ({ id, state, targetId, operatorId }) as unknown as Grant;

describe('the grant that tells an account state', () => {
  it.each([
    ['a newer grant ended, an older one still active', [grant('short', 'revoked'), grant('long', 'active')], 'long'],
    ['the newest is active', [grant('new', 'active'), grant('old', 'revoked')], 'new'],
    ['all ended: the newest', [grant('b', 'revoked'), grant('a', 'denied')], 'b'],
    ['a newer request waits beside an active one: the newest going', [grant('asked', 'requested'), grant('held', 'active')], 'asked'],
  ])('%s', (_case, grants, expected) => {
    expect(grantsTellingState(grants).get(accountKey('t1', 'ann'))?.id).toBe(expected);
  });

  it('keeps people and targets apart', () => {
    const chosen = grantsTellingState([grant('x', 'revoked', 't1', 'bob'), grant('y', 'active', 't2', 'ann')]);
    expect(chosen.get(accountKey('t1', 'bob'))?.id).toBe('x');
    expect(chosen.get(accountKey('t2', 'ann'))?.id).toBe('y');
    expect(chosen.has(accountKey('t1', 'ann'))).toBe(false);
  });
});
