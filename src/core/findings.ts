/**
 * What a connector's `verify` found that differs from what Timebox granted: data, so the
 * reconciler, the revocation and the audit log act on kinds and values, never on sentences.
 * `describeFinding` is the one place that puts a finding into words (alerts, emails, errors).
 */
import { z } from 'zod';

/** Everything the account could be found holding or doing that it should not. */
export type Finding =
  /** The account holds an entitlement (role, group) that no live grant holds. */
  | { kind: 'entitlement'; subject: string; expected: 'absent'; actual: 'present' }
  /** The account can still log in (enabled, LOGIN, not locked). */
  | { kind: 'login'; subject: string; expected: 'disabled'; actual: 'enabled' }
  /** Sessions of the account are still open. */
  | { kind: 'sessions'; subject: string; expected: 0; actual: number }
  /** The native expiry (VALID UNTIL, accountExpires) is later than it may be, or never (null). */
  | { kind: 'expiry'; subject: string; expected: string; actual: string | null }
  /** The name now belongs to something Timebox did not make (actual: what it is, e.g. a DN). */
  | { kind: 'owner'; subject: string; expected: 'timebox'; actual: string }
  /** A native backstop (a scheduled event) still exists after the account was ended. */
  | { kind: 'backstop'; subject: string; expected: 'absent'; actual: 'present' }
  /** An issued credential is neither revoked nor expired (actual: its end, ISO 8601). */
  | { kind: 'credential'; subject: string; expected: 'revoked'; actual: string }
  /** A host's agent is still told to hold the grant. */
  | { kind: 'desired_state'; subject: string; expected: 'removed'; actual: 'present' };

export type FindingKind = Finding['kind'];

/** The same shape on the wire (the agent reports its findings in its journal), checked on arrival. */
export const FindingSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('entitlement'), subject: z.string().max(200), expected: z.literal('absent'), actual: z.literal('present') }),
  z.strictObject({ kind: z.literal('login'), subject: z.string().max(200), expected: z.literal('disabled'), actual: z.literal('enabled') }),
  z.strictObject({ kind: z.literal('sessions'), subject: z.string().max(200), expected: z.literal(0), actual: z.int().min(0) }),
  z.strictObject({ kind: z.literal('expiry'), subject: z.string().max(200), expected: z.string().max(40), actual: z.string().max(40).nullable() }),
  z.strictObject({ kind: z.literal('owner'), subject: z.string().max(200), expected: z.literal('timebox'), actual: z.string().max(200) }),
  z.strictObject({ kind: z.literal('backstop'), subject: z.string().max(200), expected: z.literal('absent'), actual: z.literal('present') }),
  z.strictObject({ kind: z.literal('credential'), subject: z.string().max(200), expected: z.literal('revoked'), actual: z.string().max(40) }),
  z.strictObject({ kind: z.literal('desired_state'), subject: z.string().max(200), expected: z.literal('removed'), actual: z.literal('present') }),
]) satisfies z.ZodType<Finding>;

/** A native expiry later than allowed by more than this is drift (filetime and clock rounding). */
export const EXPIRY_TOLERANCE_MS = 60_000;

export const findings = {
  entitlement: (entitlement: string): Finding => ({ kind: 'entitlement', subject: entitlement, expected: 'absent', actual: 'present' }),
  login: (account: string): Finding => ({ kind: 'login', subject: account, expected: 'disabled', actual: 'enabled' }),
  sessions: (account: string, count: number): Finding => ({ kind: 'sessions', subject: account, expected: 0, actual: count }),
  expiry: (account: string, latest: Date, actual: Date | null): Finding => ({
    kind: 'expiry',
    subject: account,
    expected: latest.toISOString(),
    actual: actual ? actual.toISOString() : null,
  }),
  owner: (account: string, holder: string): Finding => ({ kind: 'owner', subject: account, expected: 'timebox', actual: holder }),
  backstop: (name: string): Finding => ({ kind: 'backstop', subject: name, expected: 'absent', actual: 'present' }),
  credential: (id: string, notAfter: Date): Finding => ({ kind: 'credential', subject: id, expected: 'revoked', actual: notAfter.toISOString() }),
  desiredState: (agentId: string): Finding => ({ kind: 'desired_state', subject: agentId, expected: 'removed', actual: 'present' }),
};

/** An expiry later than `latest` (beyond the tolerance), or none at all, is a finding. */
export function expiryFinding(account: string, latest: Date, actual: Date | null): Finding | null {
  if (actual && actual.getTime() <= latest.getTime() + EXPIRY_TOLERANCE_MS) return null;
  return findings.expiry(account, latest, actual);
}

/** Words for a person (alerts, emails, error messages); never parsed back. */
export function describeFinding(f: Finding): string {
  switch (f.kind) {
    case 'entitlement':
      return `still holds ${f.subject}`;
    case 'login':
      return `${f.subject} can still log in`;
    case 'sessions':
      return `${f.subject} has ${f.actual} live session(s)`;
    case 'expiry':
      return f.actual === null ? `${f.subject} never expires (expected ${f.expected} at the latest)` : `${f.subject} expires at ${f.actual}, later than ${f.expected}`;
    case 'owner':
      return `the name ${f.subject} now belongs to ${f.actual}, which is not a Timebox JIT account`;
    case 'backstop':
      return `the backstop ${f.subject} is still scheduled`;
    case 'credential':
      return `credential ${f.subject} is neither revoked nor expired (valid until ${f.actual})`;
    case 'desired_state':
      return `the grant is still in the desired state of agent ${f.subject}`;
  }
}

export const describeFindings = (fs: readonly Finding[]): string => fs.map(describeFinding).join('; ');
