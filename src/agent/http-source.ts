/**
 * The desired state from the server by long poll: `GET /api/v1/agents/desired-state?since=N`
 * waits until the agent's version passes N (or about 25 s, then 204). The first call after start
 * asks with since=-1 and is answered at once: the current state gives a restarted agent back the
 * server-chosen passwords it only ever kept in memory. Transport errors, 5xx and 401 (a revoked
 * agent) all reject: the caller backs off and asks again, and the enforcer keeps ending grants on
 * its own schedule meanwhile.
 */
import type { DesiredStateSource } from './desired-state-source.js';
import { AgentHttpError, errorMessage, type AgentClient } from './http-client.js';
import { DesiredStateSchema, type DesiredState } from '../agent-wire/protocol.js';

export const DEFAULT_POLL_WAIT_SECONDS = 25;

export class HttpDesiredStateSource implements DesiredStateSource {
  private fresh = true;

  constructor(
    private readonly client: AgentClient,
    private readonly waitSeconds = DEFAULT_POLL_WAIT_SECONDS,
  ) {}

  async next(sinceVersion: number, signal: AbortSignal): Promise<DesiredState | null> {
    const since = this.fresh ? -1 : sinceVersion;
    const query = `since=${since}&applied=${sinceVersion}&wait=${this.waitSeconds}`;
    const r = await this.client.call('GET', `/api/v1/agents/desired-state?${query}`, undefined, {
      signal,
      // The server answers within `wait`; the margin covers a slow network, not a dead one.
      timeoutMs: (this.waitSeconds + 20) * 1000,
    });
    if (r.status === 204) {
      this.fresh = false;
      return null;
    }
    if (r.status !== 200) throw new AgentHttpError(r.status, `desired state: ${r.status} ${errorMessage(r)}`);
    let json: unknown;
    try {
      json = JSON.parse(r.text);
    } catch {
      throw new Error('desired state: the server answered with something that is not JSON');
    }
    // The message names paths and expectations, never values (passwords may be in there).
    const parsed = DesiredStateSchema.safeParse(json);
    if (!parsed.success) throw new Error(`desired state: not a desired state: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    this.fresh = false;
    return parsed.data;
  }
}

/** Exponential backoff with jitter (half fixed, half random): a fleet does not reconnect in step. */
export function jitteredBackoff(failures: number, maxMs: number, baseMs = 1_000, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(failures, 20) - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
