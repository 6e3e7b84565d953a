/**
 * Signed-request authentication of agents (docs/agent.md): a known, unrevoked agent, a timestamp
 * within the window, a valid Ed25519 signature over the canonical request, a nonce never used.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { AppError } from '../core/errors.js';
import { systemClock } from '../core/clock.js';
import type { AgentRow, AgentsDb } from '../store/schema-agents.js';
import {
  AGENT_HEADER,
  NONCE_HEADER,
  NONCE_RE,
  SIGNATURE_HEADER,
  SIGNATURE_WINDOW_MS,
  TIMESTAMP_HEADER,
  verifySignature,
} from '../agent-wire/signing.js';
import { wakeMarkOf, type WakeMark } from './agent-wakes.js';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const unauthorized = (why: string) => new AppError('unauthorized', `agent authentication failed: ${why}`);

export interface AgentAuthInput {
  method: string;
  /** The request target as received (path and query). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
  /** When the agent is recorded as seen (the business clock); defaults to the real time. */
  seenAt?: Date;
}

/** An authenticated agent as its request's statement left it, with the wakes seen before it. */
export interface AuthenticatedAgent extends AgentRow {
  readonly wakeMark: WakeMark;
}

let lastNonceSweep = 0;

/*
 * Agents' public keys, parsed once: a key never changes for an agent id (enrolment creates both),
 * and a fleet's polls are mostly signature checks. The row each request's statement returns is
 * compared with the cached key, so a stale entry can never authenticate anybody.
 */
const publicKeys = new Map<string, { pem: string; key: KeyObject }>();
const MAX_KEYS = 100_000;

/**
 * Checks the signature headers: a known, unrevoked agent; a timestamp within the window of the
 * real time (not the business clock: the window is a transport matter); a valid Ed25519 signature
 * over the canonical request; a nonce not seen before. Every failure is a 401.
 *
 * A known agent's request costs one statement: the nonce, being seen and the agent's row (its
 * versions included) in one round trip. The key is read from the database only the first time.
 */
export async function authenticateAgent(db: AgentsDb, input: AgentAuthInput, now: () => number = () => systemClock.now().getTime()): Promise<AuthenticatedAgent> {
  const h = (name: string) => {
    const v = input.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const agentId = h(AGENT_HEADER);
  const ts = h(TIMESTAMP_HEADER);
  const nonce = h(NONCE_HEADER);
  const signature = h(SIGNATURE_HEADER);
  if (!agentId || !ts || !nonce || !signature) throw unauthorized(`missing ${[AGENT_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER].join(', ')} headers`);
  if (!UUID_RE.test(agentId) || !/^\d{10,16}$/.test(ts) || !NONCE_RE.test(nonce)) throw unauthorized('malformed signature headers');
  const timestampMs = Number(ts);
  const t = now();
  if (Math.abs(t - timestampMs) > SIGNATURE_WINDOW_MS) {
    const skew = Math.round((timestampMs - t) / 1000);
    const side = skew > 0 ? `${skew} s ahead of` : `${-skew} s behind`;
    throw unauthorized(`the request timestamp is ${side} the server's clock (allowed: ${SIGNATURE_WINDOW_MS / 1000} s either way); check the host's clock`);
  }
  let cached = publicKeys.get(agentId);
  if (!cached) {
    const known = await db.selectFrom('agents').select('public_key').where('id', '=', agentId).executeTakeFirst();
    if (!known) throw unauthorized('unknown agent');
    try {
      cached = { pem: known.public_key, key: createPublicKey(known.public_key) };
    } catch {
      throw unauthorized('bad signature');
    }
    if (publicKeys.size >= MAX_KEYS) publicKeys.clear();
    publicKeys.set(agentId, cached);
  }
  let ok = false;
  try {
    ok = verifySignature(cached.key, { agentId, method: input.method, path: input.url, timestampMs, nonce, body: input.rawBody }, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw unauthorized('bad signature');
  // Taken before the statement: a wake after it means the versions read may be old (waitForDesiredState).
  const wakeMark = wakeMarkOf(agentId);
  // After the signature: nobody else can fill the nonce table. The agent is seen in the same
  // statement (one commit per signed request, not two: a fleet's polls are mostly this).
  const agent = await db
    .with('n', (q) =>
      q
        .insertInto('agent_request_nonces')
        .values({ agent_id: agentId, nonce, expires_at: new Date(timestampMs + 2 * SIGNATURE_WINDOW_MS) })
        .onConflict((oc) => oc.columns(['agent_id', 'nonce']).doNothing())
        .returning('nonce'),
    )
    .with('seen', (q) =>
      q
        .updateTable('agents')
        .set({ last_seen_at: input.seenAt ?? new Date(t) })
        .where('id', '=', agentId)
        .where('revoked_at', 'is', null)
        .where((eb) => eb.exists(eb.selectFrom('n').select('n.nonce')))
        .returningAll(),
    )
    .selectFrom('seen')
    .selectAll()
    .executeTakeFirst();
  if (!agent) {
    // The rare path: say which check failed.
    const row = await db.selectFrom('agents').select(['revoked_at']).where('id', '=', agentId).executeTakeFirst();
    if (!row) {
      publicKeys.delete(agentId);
      throw unauthorized('unknown agent');
    }
    if (row.revoked_at) throw unauthorized('this agent was revoked by an administrator');
    throw unauthorized('replayed request (this nonce was already used)');
  }
  if (agent.public_key !== cached.pem) {
    publicKeys.delete(agentId);
    throw unauthorized('bad signature');
  }
  if (t - lastNonceSweep > 60_000) {
    lastNonceSweep = t;
    await db.deleteFrom('agent_request_nonces').where('expires_at', '<', new Date(t)).execute();
  }
  return { ...agent, wakeMark };
}
