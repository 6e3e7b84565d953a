/**
 * Telling relying parties that what they must trust or refuse has changed: a CA created, rotated
 * or retired, a credential revoked early. The engines raise the change inside the transaction
 * that makes it, so the signal commits (or rolls back) with it; whatever the hook wants done
 * once the change is visible (waking listeners) runs after the commit. The engines know nothing
 * about who listens: the server wires the Linux agents in (src/app/agent-channel.ts).
 */
import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import type { CaKind } from './types.js';

export interface TrustChange {
  tenantId: string;
  kind: CaKind;
}

/** Runs inside the changing transaction; may return what to do after it committed. */
export type TrustChangeHook = (tx: Transaction<Database>, change: TrustChange) => Promise<(() => void) | void>;

/** The signals of one transaction: `raise` inside it (once per tenant and kind), `flush` after it committed. */
export function trustSignals(hook: TrustChangeHook | undefined) {
  const raised = new Set<string>();
  const after: Array<() => void> = [];
  return {
    async raise(tx: Transaction<Database>, change: TrustChange): Promise<void> {
      const key = `${change.tenantId}:${change.kind}`;
      if (!hook || raised.has(key)) return;
      raised.add(key);
      const then = await hook(tx, change);
      if (then) after.push(then);
    },
    flush(): void {
      for (const fn of after) fn();
    },
  };
}
