/**
 * Live drift: the host is compared with what the schedule says it should hold, per user, for
 * users with an active grant and users whose grant ended within the watch window, and what differs
 * is put back and reported as findings (core/findings.ts), never as sentences to be parsed.
 *
 * - A grant's own account (`local-account`), while active: no supplementary group beyond the
 *   grant's, an expiry no later than the grant's end. After the end: locked, expired, in no group,
 *   without the sudo rule or processes, deleted when the grant said so. A restored or unlocked
 *   account is ended again (grant-end.ts `undoOnHost`). The name taken by an account the agent
 *   did not make is reported, never touched.
 * - An existing user: no sudo rule of an ended grant, no group an ended grant added, and no
 *   privileged group (sudo/wheel, the power-users group, any group a grant of theirs gives) that
 *   they did not have when their first grant was admitted and no live grant gives. After the last
 *   grant their processes end too (as at the end itself), never while a grant is live.
 *
 * Users with a step under way or pending a retry belong to the enforcer and are skipped.
 */
import { classifyTargetError } from '../core/errors.js';
import { describeFindings, expiryFinding, findings as finding, type Finding } from '../core/findings.js';
import { undoOnHost } from './grant-end.js';
import { accountTag, type StepContext } from './grant-steps.js';
import { expiryDate } from './host/linux-accounts.js';
import { effectiveEnd, type ScheduledGrant } from './schedule.js';

/** One user's check: what differs, and how to put it back (null: nothing the agent may do). */
interface UserDrift {
  grant: ScheduledGrant;
  findings: Finding[];
  repair: (() => Promise<void>) | null;
}

const sudoSubject = (grantId: string) => `sudo rule of grant ${grantId}`;
const groupSubject = (group: string) => `group:${group}`;

/** Grants the check looks at, by user: active ones, and ended ones within `watchMs` of their end. */
export function watchedByUser(grants: readonly ScheduledGrant[], now: number, watchMs: number): Map<string, ScheduledGrant[]> {
  const byUser = new Map<string, ScheduledGrant[]>();
  for (const g of grants) {
    if (!g.username) continue;
    const list = byUser.get(g.username) ?? [];
    list.push(g);
    byUser.set(g.username, list);
  }
  const out = new Map<string, ScheduledGrant[]>();
  for (const [user, list] of byUser) {
    // A step under way, due (an end passed) or waiting for a retry is the enforcer's: looking now would fight it.
    // A grant's own account waiting for its next grant (created, or about to be) belongs to that one.
    const busy = list.some(
      (g) =>
        ['provisioning', 'activating', 'ending'].includes(g.status) ||
        g.retryAt !== null ||
        (g.status === 'active' && effectiveEnd(g) <= now) ||
        (g.spec.kind === 'local-account' && (g.status === 'pending' || g.status === 'provisioned')),
    );
    if (busy) continue;
    const watched = list.filter((g) => g.status === 'active' || (g.status === 'ended' && isWatched(g, now, watchMs)));
    if (watched.length) out.set(user, watched);
  }
  return out;
}

export const isWatched = (g: ScheduledGrant, now: number, watchMs: number): boolean =>
  g.status === 'ended' && g.endedAt !== null && now - Date.parse(g.endedAt) < watchMs;

const latest = (gs: ScheduledGrant[]) => [...gs].sort((a, b) => Date.parse(b.endedAt ?? b.spec.endAt) - Date.parse(a.endedAt ?? a.spec.endAt))[0]!;

/** A grant's own account: `grants` are the user's watched grants (all local-account: names are unique). */
async function ownAccountDrift(ctx: StepContext, user: string, grants: ScheduledGrant[]): Promise<UserDrift | null> {
  const { host } = ctx;
  const acct = await host.getAccount(user);
  const live = grants.find((g) => g.status === 'active');
  if (live) {
    if (!acct || acct.comment !== accountTag(live)) return null; // not ours to judge: the activation verified it
    const allowed = new Set([...live.groupsAdded, ...live.groupsHeldBefore]);
    const extra = acct.groups.filter((grp) => !allowed.has(grp));
    const found: Finding[] = extra.map((grp) => finding.entitlement(groupSubject(grp)));
    const end = new Date(effectiveEnd(live));
    // Shadow keeps days: the grant's own expiry is the start of the day after its end.
    const expiry = acct.expiresAt && acct.expiresAt.toISOString().slice(0, 10) <= expiryDate(end) ? null : expiryFinding(user, end, acct.expiresAt);
    if (expiry) found.push(expiry);
    if (!found.length) return null;
    return {
      grant: live,
      findings: found,
      repair: async () => {
        for (const grp of extra) await host.removeFromGroup(user, grp);
        if (expiry) await host.setAccountExpiry(user, end);
      },
    };
  }
  if (!acct) return null;
  const ended = grants.filter((g) => g.status === 'ended');
  const owner = ended.find((g) => acct.comment === accountTag(g));
  if (!owner) {
    // Someone made an account under the name after Timebox deleted its own: reported, not touched.
    if (acct.system || !ended.some((g) => g.spec.endAction === 'delete')) return null;
    return { grant: latest(ended), findings: [finding.owner(user, `a local account not made by Timebox (uid ${acct.uid})`)], repair: null };
  }
  const found: Finding[] = [];
  if (!acct.locked) found.push(finding.login(user));
  const expiredAt = owner.endedAt ? new Date(owner.endedAt) : new Date(effectiveEnd(owner));
  if (!acct.expiresAt || acct.expiresAt.getTime() > ctx.clock.now().getTime()) found.push(finding.expiry(user, expiredAt, acct.expiresAt));
  for (const grp of acct.groups) found.push(finding.entitlement(groupSubject(grp)));
  if (owner.spec.sudo && (await host.sudoRuleInstalled(owner.spec.grantId))) found.push(finding.entitlement(sudoSubject(owner.spec.grantId)));
  const procs = await host.userProcesses(user);
  if (procs.length) found.push(finding.sessions(user, procs.length));
  // Locked, expired and bare, but brought back after its deletion (a restored backup): ended again.
  if (!found.length && owner.spec.endAction !== 'delete') return null;
  if (!found.length) found.push(finding.owner(user, 'an account of an ended grant, restored after its deletion'));
  return { grant: owner, findings: found, repair: () => undoOnHost(ctx, owner) };
}

/** An existing user: what their grants gave must be gone when no live grant gives it. */
async function existingUserDrift(ctx: StepContext, user: string, grants: ScheduledGrant[]): Promise<UserDrift | null> {
  const { host } = ctx;
  const acct = await host.getAccount(user);
  if (!acct || acct.system) return null;
  const live = grants.filter((g) => g.status === 'active');
  const ended = grants.filter((g) => g.status === 'ended');
  const held = new Set(live.flatMap((g) => [...g.groupsAdded, ...g.groupsHeldBefore]));
  const baselines = grants.map((g) => g.groupsAtAdmission).filter((b): b is string[] => b !== null);
  // The user's groups before Timebox: the earliest admission's, plus what any grant found held.
  const added = new Set(grants.flatMap((g) => g.groupsAdded));
  const baseline = new Set([...(baselines[0] ?? []).filter((grp) => !added.has(grp)), ...grants.flatMap((g) => g.groupsHeldBefore)]);
  const privileged = new Set(grants.flatMap((g) => [...g.groupsAdded, ...g.spec.groups]));
  if (baselines.length) {
    for (const role of ['administrators', 'power-users'] as const) {
      for (const grp of await host.roleGroups(role).catch(() => [] as string[])) privileged.add(grp);
    }
  }
  const extra = acct.groups.filter((grp) => privileged.has(grp) && !baseline.has(grp) && !held.has(grp));
  const found: Finding[] = extra.map((grp) => finding.entitlement(groupSubject(grp)));
  const rules: string[] = [];
  for (const g of ended) {
    if (g.spec.sudo && (await host.sudoRuleInstalled(g.spec.grantId))) rules.push(g.spec.grantId);
  }
  found.push(...rules.map((id) => finding.entitlement(sudoSubject(id))));
  if (!found.length) return null;
  const endSessions = live.length === 0 && ended.some((g) => g.spec.endSessions);
  return {
    grant: live[0] ?? latest(ended),
    findings: found,
    repair: async () => {
      for (const id of rules) await host.removeSudoRule(id);
      for (const grp of extra) await host.removeFromGroup(user, grp);
      // Processes started meanwhile keep the group's credentials or a root shell.
      if (endSessions) await host.terminateUserProcesses(user);
    },
  };
}

function userDrift(ctx: StepContext, user: string, grants: ScheduledGrant[]): Promise<UserDrift | null> {
  return grants.every((g) => g.spec.kind === 'local-account') ? ownAccountDrift(ctx, user, grants) : existingUserDrift(ctx, user, grants);
}

/** What the last check reported unrepaired, per user: the same findings are not reported again and again. */
export type Unrepaired = Map<string, string>;

/**
 * One check of every watched user: drift found is repaired and checked again, then journalled
 * (`drift`, with the findings and whether they were undone). Never throws for one user's trouble.
 */
export async function checkDrift(ctx: StepContext, watchMs: number, unrepaired: Unrepaired): Promise<void> {
  const now = ctx.clock.now().getTime();
  for (const [user, grants] of watchedByUser(ctx.store.grants(), now, watchMs)) {
    let drift: UserDrift | null;
    try {
      drift = await userDrift(ctx, user, grants);
    } catch (err) {
      ctx.log.warn({ username: user, err: (err as Error).message }, 'drift check failed; trying again at the next check');
      continue;
    }
    if (!drift) {
      unrepaired.delete(user);
      continue;
    }
    let left = drift.findings;
    let failure: string | null = drift.repair ? null : 'the agent does not change accounts it did not make';
    if (drift.repair) {
      try {
        await drift.repair();
        left = (await userDrift(ctx, user, grants))?.findings ?? [];
        if (left.length) failure = `still found after the repair: ${describeFindings(left)}`;
      } catch (err) {
        failure = classifyTargetError(err).message;
      }
    }
    const id = drift.grant.spec.grantId;
    if (!failure) {
      unrepaired.delete(user);
      ctx.journal.record(id, 'drift', `drift on ${user} undone: ${describeFindings(drift.findings)}`, {
        idSuffix: String(now),
        code: 'drift_repaired',
        findings: drift.findings,
      });
      continue;
    }
    const signature = JSON.stringify(drift.findings);
    if (unrepaired.get(user) === signature) continue;
    unrepaired.set(user, signature);
    ctx.journal.record(id, 'drift', `drift on ${user} not undone (${failure}): ${describeFindings(drift.findings)}`, {
      idSuffix: String(now),
      code: 'drift_unrepaired',
      findings: drift.findings,
    });
  }
}
