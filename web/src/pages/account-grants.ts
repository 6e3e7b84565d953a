/**
 * Which grant tells a JIT account's state: of the person's grants on the target, the newest one
 * still going, else the newest. A short grant ending must not show the account as ended while a
 * longer one still holds it.
 */
import type { Grant } from '../../../src/api/types.js';

const GOING = new Set(['requested', 'approved', 'activating', 'active', 'revoking', 'revoke_failed']);

export const accountKey = (targetId: string, operatorId: string) => `${targetId}|${operatorId}`;

/** `grants` newest first; the answer is keyed by accountKey. */
export function grantsTellingState(grants: readonly Grant[]): Map<string, Grant> {
  const chosen = new Map<string, Grant>();
  for (const g of grants) {
    const key = accountKey(g.targetId, g.operatorId);
    const seen = chosen.get(key);
    if (!seen || (!GOING.has(seen.state) && GOING.has(g.state))) chosen.set(key, g);
  }
  return chosen;
}
