/**
 * Wake-ups of held agent long polls in this process: a change answers waiting polls at once
 * (agent-channel.ts waits, agent-push.ts hears other processes' NOTIFYs), counted per agent so a
 * version read before a poll started listening is known to be still current or not, and the
 * "answers first" rule that holds new polls while a fleet-wide change is being answered.
 */
const waiters = new Map<string, Set<(version?: number) => void>>();

/**
 * The NOTIFY channel of desired-state changes (agent-push.ts). The payload is the agent's id and
 * its new version, separated by a space: a woken poll that is behind goes straight to its state.
 */
export const AGENT_CHANGES_CHANNEL = 'timebox_agent_changes';

/*
 * Wakes counted per agent: a version read with a request's authentication may be used by the
 * poll that follows only if no wake for that agent arrived in between (the poll listens only
 * once it starts). Every wake of this process goes through here: in-process changes after their
 * commit and other processes' NOTIFYs. A wake of all agents, or too many agents to count, starts
 * a new generation, which invalidates every mark taken before.
 */
const wakeCounts = new Map<string, number>();
let wakeGeneration = 0;
const MAX_COUNTED = 100_000;

/** What a read taken now may be compared against later (`sameWakes`). */
export interface WakeMark {
  readonly generation: number;
  readonly count: number;
}

export function wakeMarkOf(agentId: string): WakeMark {
  return { generation: wakeGeneration, count: wakeCounts.get(agentId) ?? 0 };
}

export function sameWakes(agentId: string, mark: WakeMark): boolean {
  return mark.generation === wakeGeneration && mark.count === (wakeCounts.get(agentId) ?? 0);
}

/**
 * Wakes every long poll of `agentId` held by this process (other processes hear the NOTIFY);
 * `version`, when known, is a committed desired version of the agent.
 */
export function wakeAgent(agentId: string, version?: number): void {
  if (wakeCounts.size >= MAX_COUNTED && !wakeCounts.has(agentId)) {
    wakeCounts.clear();
    wakeGeneration++;
  }
  wakeCounts.set(agentId, (wakeCounts.get(agentId) ?? 0) + 1);
  for (const w of waiters.get(agentId) ?? []) w(version);
}

/** Wakes every held long poll of this process: each re-reads its version once. */
export function wakeAllAgents(): void {
  wakeGeneration++;
  wakeCounts.clear();
  for (const set of waiters.values()) for (const w of set) w();
}

export function onWake(agentId: string, fn: (version?: number) => void): () => void {
  let set = waiters.get(agentId);
  if (!set) waiters.set(agentId, (set = new Set()));
  set.add(fn);
  return () => {
    set!.delete(fn);
    if (set!.size === 0) waiters.delete(agentId);
  };
}

/*
 * Answers first: when one change wakes a fleet, every answered agent polls again at once, and
 * authenticating those new polls (a signature check and a statement each) would compete with
 * the answers still owed to the rest. A new poll therefore waits until this process has no
 * woken poll left to answer (never longer than `ANSWERS_FIRST_MAX_MS`): the whole fleet gets its
 * state first, then the renewals are taken. Journals and heartbeats never wait.
 */
let owedAnswers = 0;
let drained: (() => void)[] = [];
const ANSWERS_FIRST_MAX_MS = 5_000;

export function answerOwed(): () => void {
  owedAnswers++;
  let paid = false;
  return () => {
    if (paid) return;
    paid = true;
    owedAnswers--;
    if (owedAnswers === 0 && drained.length) {
      const waiting = drained;
      drained = [];
      for (const d of waiting) d();
    }
  };
}

/** Resolves once no woken poll of this process is waiting for its answer (or after 5 s). */
export function answersDelivered(): Promise<void> | undefined {
  if (owedAnswers === 0) return undefined;
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      drained = drained.filter((d) => d !== done);
      resolve();
    }, ANSWERS_FIRST_MAX_MS);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    drained.push(done);
  });
}
