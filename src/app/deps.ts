/** What the use cases need, passed explicitly from the composition root. */
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { AgentPush } from './agent-push.js';
import type { AuditLog } from '../audit/types.js';
import type { ConnectorHub } from '../connectors/registry.js';
import type { Clock } from '../core/clock.js';
import type { RetryPolicy } from '../core/retry.js';
import type { OutboundPolicy } from '../net/outbound-policy.js';
import type { MetricsRecorder } from '../metrics/metrics.js';
import type { KeyedLimiter } from '../scheduler/keyed-limiter.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import type { Write } from '../store/write-together.js';

/** Queues messages in the caller's transaction (email, webhooks); absent means nobody is told. */
export interface NotificationQueue {
  enqueue(
    tx: Transaction<Database>,
    tenantId: string,
    event: { type: string } & Record<string, unknown>,
    recipients: { operatorIds: string[] },
  ): Promise<void>;
  /** Several messages of one decision: one lookup and one insert for all of them. */
  enqueueAll(tx: Transaction<Database>, tenantId: string, items: ReadonlyArray<{ event: { type: string } & Record<string, unknown>; recipients: { operatorIds: string[] } }>): Promise<void>;
  /** enqueueAll's insert, not run, for the caller's own statement (null: nobody to tell). */
  enqueueAllWrite(
    tx: Transaction<Database>,
    tenantId: string,
    items: ReadonlyArray<{ event: { type: string } & Record<string, unknown>; recipients: { operatorIds: string[] } }>,
  ): Promise<Write | null>;
}

export interface AppDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  secrets: SecretBox;
  clock: Clock;
  log: Logger;
  connectors: ConnectorHub;
  retry: RetryPolicy;
  /** Bounds concurrent calls per target. */
  targetLimiter: KeyedLimiter;
  /** Identifies this process in leases. */
  workerId: string;
  /** Tell the scheduler that work was added. New work was scheduled (due at `dueAt`, when known: nothing to do if the timer is aimed earlier). */
  poke(dueAt?: Date): void;
  /** Where the server may connect on a tenant's say-so (webhooks, SMTP relays, targets). */
  outbound: OutboundPolicy;
  notifier?: NotificationQueue;
  /** Activation and revocation figures for /metrics; absent: not recorded. */
  metrics?: MetricsRecorder;
  /** How held agent long polls learn of changes (agent-push.ts); absent: they re-check each second. */
  agentPush?: AgentPush;
}

/** Who is acting: recorded on every audit event. */
export interface Actor {
  type: 'operator' | 'system';
  id: string | null;
}

export const systemActor: Actor = { type: 'system', id: null };
