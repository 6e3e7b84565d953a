/**
 * How an agent is doing, in words: online, stale, never seen or revoked (by the server's clock),
 * how long ago it was last seen, and what its last heartbeat said.
 */
import { readAgentHealth } from '../../../../src/api/endpoints/agents.js';
import type { Agent } from '../../../../src/api/types.js';

export type AgentStatus = 'online' | 'stale' | 'never' | 'revoked';

/** Agents poll and send heartbeats at least every 30 s: four missed turns make one stale. */
export const STALE_AFTER_MS = 2 * 60_000;

export const statusLabels: Record<AgentStatus, string> = { online: 'Online', stale: 'Stale', never: 'Never seen', revoked: 'Revoked' };

export function agentStatus(a: Agent, nowMs: number): AgentStatus {
  if (a.revoked) return 'revoked';
  if (!a.lastSeenAt) return 'never';
  return nowMs - Date.parse(a.lastSeenAt) > STALE_AFTER_MS ? 'stale' : 'online';
}

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 days ago". */
export function ago(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} days ago`;
}

export interface HealthLine {
  text: string;
  tone: 'ok' | 'warn' | 'bad' | 'muted';
}

/** The lines of the health column: versions, grants by state, failures, journal backlog. */
export function healthLines(a: Agent): HealthLine[] {
  if (a.revoked) return [{ text: 'No longer served', tone: 'muted' }];
  const lines: HealthLine[] = [];
  lines.push(
    a.appliedVersion >= a.desiredVersion
      ? { text: `Up to date (version ${a.desiredVersion})`, tone: 'ok' }
      : a.appliedVersion <= 0
        ? { text: `Desired state (version ${a.desiredVersion}) not applied yet`, tone: 'warn' }
        : { text: `Applied version ${a.appliedVersion} of ${a.desiredVersion}`, tone: 'warn' },
  );
  const h = readAgentHealth(a.health);
  if (!h) {
    lines.push({ text: 'No heartbeat yet', tone: 'muted' });
    return lines;
  }
  const grants = Object.entries(h.grants ?? {})
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`);
  lines.push({ text: grants.length ? `Grants: ${grants.join(', ')}` : 'No grants on the host', tone: 'muted' });
  if (h.failing) lines.push({ text: `${h.failing} failing, being retried`, tone: 'bad' });
  if (h.journalBacklog) lines.push({ text: `${h.journalBacklog} journal entr${h.journalBacklog === 1 ? 'y' : 'ies'} not uploaded yet`, tone: 'warn' });
  return lines;
}
