/**
 * The agent's local schedule: every grant it was told about, with how far it got on the host.
 * It is the only thing the enforcer needs to end access on time: no server, no network.
 * Persisted atomically (0600) in the state directory before every step that changes the host, so
 * after a crash the agent knows what it may have done (a `provisioning` account may exist, a group
 * in `groupsAdded` may have been added) and can finish or undo it.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { GrantSpecSchema, type GrantSpec } from '../agent-wire/protocol.js';
import { readJsonIfExists, writeFileAtomic } from './state-files.js';

/**
 * pending → (provisioning → provisioned: local accounts only) → activating → active → ending → ended.
 * A grant that reaches its end while still `pending` never touched the host and just ends.
 * `rejected` grants failed admission: nothing was applied.
 */
export const GrantStatusSchema = z.enum(['pending', 'provisioning', 'provisioned', 'activating', 'active', 'ending', 'ended', 'rejected']);
export type GrantStatus = z.infer<typeof GrantStatusSchema>;

const instant = z.iso.datetime({ offset: true });

export const ScheduledGrantSchema = z.object({
  spec: GrantSpecSchema,
  /** The account's name: from the spec, or the random `tb…` name chosen once and kept. */
  username: z.string().nullable(),
  status: GrantStatusSchema,
  /** Host-side admission checks passed (names, ownership, groups, sudo grammar). */
  admitted: z.boolean().default(false),
  /** Set when the desired state stopped listing the grant: it ends now. */
  revokedAt: instant.nullable().default(null),
  credentialsDelivered: z.boolean().default(false),
  passwordSet: z.boolean().default(false),
  /** Groups the agent added (recorded before `gpasswd -a`): exactly these are removed at the end. */
  groupsAdded: z.array(z.string()).default([]),
  /** Groups the user already had: left alone at the end. */
  groupsHeldBefore: z.array(z.string()).default([]),
  /**
   * Existing users: every supplementary group the user had when the grant was admitted, the
   * baseline of the drift check (a privileged group gained later, by no grant, is drift). Null in
   * schedules written before the drift check.
   */
  groupsAtAdmission: z.array(z.string()).nullable().default(null),
  failures: z.int().min(0).default(0),
  retryAt: instant.nullable().default(null),
  lastError: z.string().nullable().default(null),
  endedAt: instant.nullable().default(null),
});
export type ScheduledGrant = z.infer<typeof ScheduledGrantSchema>;

const ScheduleFileSchema = z.object({
  schemaVersion: z.literal(1),
  /** The last desired-state version applied; older ones are ignored. */
  desiredVersion: z.int().min(-1),
  grants: z.array(ScheduledGrantSchema),
});
type ScheduleFile = z.infer<typeof ScheduleFileSchema>;

export const SCHEDULE_FILE = 'schedule.json';

export function newScheduledGrant(spec: GrantSpec): ScheduledGrant {
  return ScheduledGrantSchema.parse({ spec, username: spec.username ?? null, status: 'pending' });
}

/** When the host must grant access: local accounts open `enableLeadSeconds` early (Trigger-it). */
export function activeFrom(g: ScheduledGrant): number {
  const start = Date.parse(g.spec.startAt);
  return g.spec.kind === 'local-account' ? start - g.spec.enableLeadSeconds * 1000 : start;
}

/** The end that applies: the scheduled one, or an earlier revocation. */
export function effectiveEnd(g: ScheduledGrant): number {
  const end = Date.parse(g.spec.endAt);
  return g.revokedAt ? Math.min(end, Date.parse(g.revokedAt)) : end;
}

export const isTerminal = (g: ScheduledGrant) => g.status === 'ended' || g.status === 'rejected';

export class ScheduleStore {
  private data: ScheduleFile = { schemaVersion: 1, desiredVersion: -1, grants: [] };
  readonly file: string;

  constructor(readonly stateDir: string) {
    this.file = path.join(stateDir, SCHEDULE_FILE);
  }

  /** Loads the schedule; a corrupt file stops the agent rather than forgetting grants to end. */
  async load(): Promise<void> {
    // Temp files of writers killed before their rename hold nothing the real file lacks.
    for (const name of await readdir(this.stateDir)) {
      if (name.startsWith(`${SCHEDULE_FILE}.tmp-`)) await rm(path.join(this.stateDir, name), { force: true });
    }
    const raw = await readJsonIfExists(this.file);
    if (raw === undefined) return;
    const parsed = ScheduleFileSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`${this.file} is not a valid schedule: ${parsed.error.message}`);
    this.data = parsed.data;
  }

  async save(): Promise<void> {
    await writeFileAtomic(this.file, `${JSON.stringify(this.data, null, 2)}\n`);
  }

  get desiredVersion(): number {
    return this.data.desiredVersion;
  }

  set desiredVersion(v: number) {
    this.data.desiredVersion = v;
  }

  grants(): readonly ScheduledGrant[] {
    return this.data.grants;
  }

  get(grantId: string): ScheduledGrant | undefined {
    return this.data.grants.find((g) => g.spec.grantId === grantId);
  }

  add(g: ScheduledGrant): void {
    if (this.get(g.spec.grantId)) throw new Error(`grant ${g.spec.grantId} is already scheduled`);
    this.data.grants.push(g);
  }

  /** Drops finished grants the desired state no longer lists (kept until then, as tombstones). */
  prune(keep: (g: ScheduledGrant) => boolean): void {
    this.data.grants = this.data.grants.filter((g) => !isTerminal(g) || keep(g));
  }

  /** Every account name the schedule uses or reserved: random names must not collide with them. */
  usernames(): Set<string> {
    return new Set(this.data.grants.map((g) => g.username).filter((u): u is string => u !== null));
  }
}
