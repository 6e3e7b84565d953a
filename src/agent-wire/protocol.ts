/**
 * The agent's wire contract with the server, defined here first so the host side can be built and
 * tested offline. The server sends a whole desired state (every grant this host should hold, with
 * a monotonically increasing version); the agent converges to it and reports journal entries back.
 *
 * Grants are parsed one by one (`parseGrantSpec`) so a single malformed grant is rejected and
 * journalled without blocking the others in the same message.
 */
import { z } from 'zod';
import { FindingSchema } from '../core/findings.js';
import { accountNameProblem, GRANT_ID_RE, runAsProblem, sudoCommandProblem } from './names.js';

export const PROTOCOL_SCHEMA_VERSION = 1;

const accountName = (what: string) =>
  z.string().superRefine((value, ctx) => {
    const problem = accountNameProblem(value, what);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const instant = z.iso.datetime({ offset: true });
/** What chpasswd can take safely ("user:password" lines): printable ASCII, no ":" and no space. */
const PASSWORD_RE = /^[\x21-\x39\x3b-\x7e]{8,256}$/;

export const SudoRuleSchema = z.strictObject({
  /** Users the grantee may act as (`sudo -u`): impersonation. Default root only. */
  runAs: z
    .array(
      z.string().superRefine((v, ctx) => {
        const p = runAsProblem(v);
        if (p) ctx.addIssue({ code: 'custom', message: p });
      }),
    )
    .min(1)
    .max(16)
    .default(['root']),
  /** Absolute command paths with optional arguments, or ["ALL"]. */
  commands: z
    .array(
      z.string().superRefine((v, ctx) => {
        const p = sudoCommandProblem(v);
        if (p) ctx.addIssue({ code: 'custom', message: p });
      }),
    )
    .min(1)
    .max(64),
  /** NOPASSWD: the grantee is not asked for a password (they may not have one, e.g. key logins). */
  noPassword: z.boolean().default(true),
});
export type SudoRule = z.infer<typeof SudoRuleSchema>;

/** Host-neutral roles; the agent maps them to local groups (sudo/wheel, a configured group, none). */
export const LocalRoleSchema = z.enum(['administrators', 'power-users', 'users']);
export type LocalRole = z.infer<typeof LocalRoleSchema>;

export const GrantKindSchema = z.enum(['local-account', 'group-membership', 'sudo-elevation']);
export type GrantKind = z.infer<typeof GrantKindSchema>;

export const GrantSpecSchema = z
  .strictObject({
    grantId: z.string().regex(GRANT_ID_RE, `grant id must match ${GRANT_ID_RE.source}`),
    kind: GrantKindSchema,
    /** Required for grants on existing users; for local-account omitted means a random `tb…` name. */
    username: accountName('user name').optional(),
    role: LocalRoleSchema.default('users'),
    /** Supplementary groups (besides the role's) held during the grant. */
    groups: z.array(accountName('group name')).max(32).default([]),
    sudo: SudoRuleSchema.optional(),
    startAt: instant,
    /** local-account only: the account is enabled this long before startAt (Trigger-it: 3 min). */
    enableLeadSeconds: z.int().min(0).max(3600).default(180),
    endAt: instant,
    /** local-account only: what happens to the account at the end (both lock it first). */
    endAction: z.enum(['disable', 'delete']).default('disable'),
    /** Kill the user's processes at the end: live processes keep group credentials and sudo shells. */
    endSessions: z.boolean().default(true),
    passwordDelivery: z.strictObject({ channel: z.literal('email'), to: z.email() }).optional(),
    /**
     * local-account only: the server chose the password (it shows it once to the account's owner)
     * and sends it in `password` until the agent reports the account provisioned. The agent keeps
     * it in memory only, never in the schedule, the journal or a log.
     */
    serverPassword: z.boolean().default(false),
    password: z
      .string()
      .regex(PASSWORD_RE, 'password must be 8-256 printable ASCII characters without ":" or spaces')
      .optional(),
  })
  .superRefine((g, ctx) => {
    if (Date.parse(g.endAt) <= Date.parse(g.startAt)) {
      ctx.addIssue({ code: 'custom', path: ['endAt'], message: 'endAt must be after startAt' });
    }
    if (g.kind !== 'local-account' && !g.username) {
      ctx.addIssue({ code: 'custom', path: ['username'], message: `${g.kind} needs the existing user's name` });
    }
    if (g.kind === 'group-membership' && g.groups.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['groups'], message: 'group-membership needs at least one group' });
    }
    if (g.kind === 'sudo-elevation' && !g.sudo) {
      ctx.addIssue({ code: 'custom', path: ['sudo'], message: 'sudo-elevation needs a sudo rule' });
    }
    if (g.kind !== 'local-account' && g.passwordDelivery) {
      ctx.addIssue({ code: 'custom', path: ['passwordDelivery'], message: 'only local-account grants have a password' });
    }
    if (g.kind !== 'local-account' && (g.serverPassword || g.password !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['serverPassword'], message: 'only local-account grants have a password' });
    }
    if (g.serverPassword && g.passwordDelivery) {
      ctx.addIssue({ code: 'custom', path: ['passwordDelivery'], message: 'a server-chosen password is not emailed by the agent' });
    }
    if (g.password !== undefined && !g.serverPassword) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'password is only sent with serverPassword: true' });
    }
  });
export type GrantSpec = z.infer<typeof GrantSpecSchema>;
export type GrantSpecInput = z.input<typeof GrantSpecSchema>;

/** The envelope; grants stay `unknown` here and are parsed one by one. */
export const DesiredStateSchema = z.strictObject({
  schemaVersion: z.literal(PROTOCOL_SCHEMA_VERSION),
  /** Monotonic per agent: an older or equal version is ignored (replays, out-of-order polls). */
  version: z.int().min(0),
  issuedAt: instant,
  grants: z.array(z.unknown()).max(10_000),
});
export type DesiredState = z.infer<typeof DesiredStateSchema>;

export type GrantParse = { ok: true; grant: GrantSpec } | { ok: false; grantId: string | null; error: string };

export function parseGrantSpec(raw: unknown): GrantParse {
  const r = GrantSpecSchema.safeParse(raw);
  if (r.success) return { ok: true, grant: r.data };
  const id = (raw as { grantId?: unknown } | null)?.grantId;
  const grantId = typeof id === 'string' && GRANT_ID_RE.test(id) ? id : null;
  const error = r.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
  return { ok: false, grantId, error };
}

/** What the agent reports back (uploaded to the server, idempotent by id); one JSON line each in the local journal. */
export const JournalEventSchema = z.enum([
  'accepted',
  'rejected',
  'provisioned',
  'credentials-delivered',
  'activated',
  'ended',
  'error',
  /** The host was found changed after the fact (live drift); `findings` say what, `code` whether it was undone. */
  'drift',
]);
export type JournalEvent = z.infer<typeof JournalEventSchema>;

/**
 * What a refusal or failure means, for the server to act on (the message is for people):
 * `grant_refused` nothing was applied; `activation_refused` the host could not apply the grant as
 * specified and ends it; `step_failed` / `end_failed` a step is being retried; `drift_repaired` / `drift_unrepaired` what a drift check
 * found (and undid, or could not undo).
 */
export const JournalCodeSchema = z.enum(['grant_refused', 'activation_refused', 'step_failed', 'end_failed', 'drift_repaired', 'drift_unrepaired']);
export type JournalCode = z.infer<typeof JournalCodeSchema>;

export const JournalEntrySchema = z.strictObject({
  /** Stable per grant and event (plus a counter for errors) so the server can de-duplicate. */
  id: z.string(),
  at: instant,
  grantId: z.string().nullable(),
  event: JournalEventSchema,
  /** Set on 'rejected' and 'error' entries by agents since the code was added; older ones omit it. */
  code: JournalCodeSchema.optional(),
  message: z.string(),
  /** Facts checked on the host after the step (never secrets). */
  verified: z.record(z.string(), z.union([z.boolean(), z.string(), z.number()])).optional(),
  /** On 'drift' entries: what differed from the desired state, as data (core/findings.ts). */
  findings: z.array(FindingSchema).max(50).optional(),
});
export type JournalEntry = z.infer<typeof JournalEntrySchema>;

/** The entry id an activation refusal has always had: read from agents that send no code. */
export const activationRefusalId = (grantId: string) => `${grantId}:error:activation`;

/** Did the host refuse to apply the grant (and end it)? By code, or by the stable id of older agents. */
export function isActivationRefusal(e: JournalEntry): boolean {
  if (e.code) return e.code === 'activation_refused';
  return e.event === 'error' && e.grantId !== null && e.id === activationRefusalId(e.grantId);
}

/*
 * The HTTP API between agent and server (docs/agent.md, "Protocol"). Everything after enrolment
 * is signed (src/agent-wire/signing.ts); the agent only ever connects out.
 */

/** Host names as the agent reports them (RFC 1123 labels). */
export const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export const AGENT_VERSION_RE = /^[0-9A-Za-z.+_-]{1,40}$/;

/** `POST /api/v1/agents/enroll` (unsigned: the one-time token is the credential). */
export const EnrollRequestSchema = z.strictObject({
  token: z.string().min(1).max(200),
  /** SPKI PEM of the agent's Ed25519 public key. */
  publicKey: z.string().min(1).max(1000),
  hostname: z.string().regex(HOSTNAME_RE, 'hostname must be a host name (letters, digits, "-" and ".")'),
  version: z.string().regex(AGENT_VERSION_RE, 'version must be 1-40 characters of letters, digits and . + _ -'),
});
export type EnrollRequest = z.infer<typeof EnrollRequestSchema>;

export const EnrollResponseSchema = z.object({
  agentId: z.string(),
  name: z.string(),
  tenant: z.string(),
});
export type EnrollResponse = z.infer<typeof EnrollResponseSchema>;

/** `POST /api/v1/agents/journal`: idempotent by entry id. */
export const JournalUploadSchema = z.strictObject({ entries: z.array(JournalEntrySchema).max(500) });
export const JOURNAL_BATCH = 200;

/** What the agent reports about itself; counts and versions only, never secrets. */
export const AgentHealthSchema = z.strictObject({
  appliedVersion: z.int().min(-1),
  grants: z.record(z.string().max(20), z.int().min(0)).optional(),
  /** Grants whose last step failed and is being retried. */
  failing: z.int().min(0).optional(),
  /** Journal entries not yet uploaded. */
  journalBacklog: z.int().min(0).optional(),
});
export type AgentHealth = z.infer<typeof AgentHealthSchema>;

/** `POST /api/v1/agents/heartbeat`. */
export const HeartbeatSchema = z.strictObject({
  version: z.string().regex(AGENT_VERSION_RE),
  health: AgentHealthSchema,
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;
