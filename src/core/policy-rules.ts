/**
 * What a policy says beyond its basics, as one zod schema used at the API edge and when read back
 * from the store, plus the checks that need more than types (windows that never open, levels
 * that overlap, quorums nobody can reach, ticket patterns that could hang the server).
 */
import { z } from 'zod';
import { isValidTimeZone, neverOpens, weekdays, type AccessWindow } from './access-window.js';
import { checkTicketPattern } from './safe-pattern.js';
import { name } from './text-schema.js';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'use HH:MM (24 h)' });
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'use YYYY-MM-DD' });
const id = z.guid({ error: 'must be an id (UUID)' });

export const accessWindowSchema = z.strictObject({
  timeZone: z.string().refine(isValidTimeZone, { error: 'unknown time zone (use an IANA name such as Europe/Berlin)' }),
  days: z.array(z.enum(weekdays)).max(7),
  from: hhmm,
  to: hhmm,
  dates: z.strictObject({ from: day, to: day }).optional(),
});

const levelOf = (ruleName: z.ZodType<string>) =>
  z.strictObject({
    name: ruleName.optional(),
    approverIds: z.array(id).max(100).default([]),
    groupIds: z.array(id).max(50).default([]),
    quorum: z.number().int().min(1).max(50).default(1),
  });

const autoApproveOf = (ruleName: z.ZodType<string>) =>
  z.strictObject({
    name: ruleName,
    /** All given conditions must hold. */
    requesterGroupIds: z.array(id).max(50).optional(),
    maxDurationSeconds: z.number().int().min(10).optional(),
    windows: z.array(accessWindowSchema).max(20).optional(),
  });

/**
 * What the SSH gateway allows under the policy. `only`: the grant's password is never shown to the
 * person, so they reach the host through the gateway alone (recorded). The rest is refused unless
 * asked for here, and audited either way.
 */
export const gatewayOptionsSchema = z.strictObject({
  only: z.boolean().default(false),
  /** Keystrokes into the recording too (passwords typed at prompts with them). */
  recordInput: z.boolean().default(false),
  /** `ssh -L`: connections opened from the host's side to what the host reaches. */
  allowPortForwarding: z.boolean().default(false),
  /** The sftp subsystem, relayed to the host; each file's transfer is audited. */
  allowSftp: z.boolean().default(false),
});
export type GatewayOptions = z.output<typeof gatewayOptionsSchema>;
export const noGatewayOptions: GatewayOptions = { only: false, recordInput: false, allowPortForwarding: false, allowSftp: false };

/** The shape once; the rule names' text rule differs between what a person sends and what is stored. */
const rulesOf = (ruleName: z.ZodType<string>) =>
  z.strictObject({
    requesterOperatorIds: z.array(id).max(500).default([]),
    requesterGroupIds: z.array(id).max(50).default([]),
    ticket: z.strictObject({ required: z.boolean(), pattern: z.string().max(200).optional() }).optional(),
    windows: z.array(accessWindowSchema).max(20).default([]),
    maxConcurrentGrants: z.number().int().min(1).max(1000).optional(),
    maxScheduleAheadDays: z.number().int().min(0).max(365).default(0),
    extension: z
      .strictObject({
        allowed: z.boolean(),
        /** The grant's total length, extensions included, never goes beyond this. */
        maxTotalSeconds: z.number().int().min(60),
        /** Requester may extend within the cap without asking the approvers again. */
        selfApprove: z.boolean().default(false),
      })
      .optional(),
    approvalLevels: z.array(levelOf(ruleName)).max(5).default([]),
    autoApprove: z.array(autoApproveOf(ruleName)).max(10).default([]),
    breakGlass: z.strictObject({ allowed: z.boolean() }).default({ allowed: false }),
    mfa: z
      .strictObject({ request: z.boolean().default(false), approve: z.boolean().default(false), reveal: z.boolean().default(false) })
      .default({ request: false, approve: false, reveal: false }),
    gateway: gatewayOptionsSchema.default(noGatewayOptions),
  });

/** At the API edge: rule names are names people read and compare (no bidi controls, no invisibles). */
export const policyRulesSchema = rulesOf(name(64));
export const approvalLevelSchema = levelOf(name(64));
/**
 * Read back from the store: rules saved before names followed the text rule must still load (a
 * policy that cannot be read would refuse every request on it).
 */
const storedRulesSchema = rulesOf(z.string().min(1).max(64));

export type PolicyRules = z.output<typeof policyRulesSchema>;
export type PolicyRulesInput = z.input<typeof policyRulesSchema>;
export type ApprovalLevel = z.output<typeof approvalLevelSchema>;

export const emptyRules: PolicyRules = policyRulesSchema.parse({});

/** Parses stored rules; a stored value that no longer parses is a bug, not user input. */
export function readRules(stored: unknown): PolicyRules {
  return storedRulesSchema.parse(stored ?? {});
}

/**
 * Semantic checks. `groupSizes` maps each referenced group to its member ids, so a quorum can be
 * compared with the people who could actually approve.
 */
export function rulesProblems(rules: PolicyRules, now: Date, groupMembers: ReadonlyMap<string, readonly string[]>): string[] {
  const problems: string[] = [];
  const windowProblems = (ws: AccessWindow[], where: string) =>
    ws.forEach((w, i) => {
      const why = neverOpens(w, now);
      if (why) problems.push(`${where}[${i}] never opens: ${why}`);
    });
  windowProblems(rules.windows, 'windows');
  rules.autoApprove.forEach((r) => windowProblems(r.windows ?? [], `autoApprove "${r.name}" windows`));

  if (rules.ticket?.pattern) {
    const why = checkTicketPattern(rules.ticket.pattern);
    if (why) problems.push(why);
  }
  if (rules.ticket?.required === false && rules.ticket.pattern) {
    // A pattern still applies when a ticket is given; nothing to refuse.
  }

  const seen = new Map<string, number>();
  rules.approvalLevels.forEach((level, i) => {
    const people = new Set(level.approverIds);
    for (const g of level.groupIds) {
      const members = groupMembers.get(g);
      if (!members) problems.push(`approvalLevels[${i}] names an unknown operator group ${g}`);
      else for (const m of members) people.add(m);
    }
    for (const p of people) {
      const other = seen.get(p);
      if (other !== undefined) problems.push(`approvalLevels[${i}] and approvalLevels[${other}] overlap: one person may approve at one level only`);
      else seen.set(p, i);
    }
    if (level.quorum > people.size) {
      problems.push(`approvalLevels[${i}] needs ${level.quorum} approvals but has only ${people.size} possible approver(s)`);
    }
  });
  return [...new Set(problems)];
}
