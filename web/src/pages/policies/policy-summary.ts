/** One-line descriptions of a policy's rules for the list. */
import type { AccessWindow, Policy } from '../../../../src/api/types.js';

const dayOrder = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export function describeDays(days: string[]): string {
  if (days.length === 7) return 'every day';
  const idx = days.map((d) => dayOrder.indexOf(d)).sort((a, b) => a - b);
  const contiguous = idx.every((v, i) => i === 0 || v === idx[i - 1]! + 1);
  if (contiguous && idx.length > 2) return `${cap(dayOrder[idx[0]!]!)}–${cap(dayOrder[idx[idx.length - 1]!]!)}`;
  return idx.map((i) => cap(dayOrder[i]!)).join(', ');
}

export const describeWindow = (w: AccessWindow) => `${describeDays(w.days)} ${w.from}–${w.to} ${w.timeZone}`;

export function describeApproval(p: Policy): string {
  const levels = p.rules?.approvalLevels ?? [];
  if (!levels.length) return 'none';
  const each = levels.map((l, i) => `${l.name ?? `level ${i + 1}`} (quorum ${l.quorum})`).join(' → ');
  const auto = p.rules?.autoApprove.length ? `; ${p.rules.autoApprove.length} auto rule(s)` : '';
  return each + auto;
}

export function describeExtras(p: Policy): string[] {
  const r = p.rules;
  if (!r) return [];
  const out: string[] = [];
  if (r.ticket?.required) out.push(r.ticket.pattern ? `ticket ${r.ticket.pattern}` : 'ticket');
  else if (r.ticket?.pattern) out.push(`ticket form ${r.ticket.pattern}`);
  if (r.extension?.allowed) out.push(r.extension.selfApprove ? 'self-extend' : 'extend');
  if (r.breakGlass.allowed) out.push('break-glass');
  const mfa = (['request', 'approve', 'reveal'] as const).filter((k) => r.mfa[k]);
  if (mfa.length) out.push(`MFA: ${mfa.join(', ')}`);
  if (r.gateway.only) out.push('gateway only');
  const gw = [r.gateway.recordInput && 'keystrokes', r.gateway.allowPortForwarding && 'port forwarding', r.gateway.allowSftp && 'SFTP'].filter(Boolean);
  if (gw.length) out.push(`gateway: ${gw.join(', ')}`);
  if (r.maxScheduleAheadDays > 0) out.push(`schedule ≤ ${r.maxScheduleAheadDays}d`);
  if (r.maxConcurrentGrants) out.push(`≤ ${r.maxConcurrentGrants} open`);
  return out;
}
