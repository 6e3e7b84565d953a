/**
 * Ending a grant: take away every privilege, end the user's processes, rotate the password,
 * delete or disable the account, then check the host and only then call the grant ended.
 * Order matters: logins are blocked first (lock + expiry) so nothing new starts while the rest
 * is undone; processes are killed after the groups and rule are gone so nothing restarted with them.
 */
import { transient } from '../core/errors.js';
import { accountTag, groupHeldByOtherGrant, type StepContext } from './grant-steps.js';
import { isTerminal, type ScheduledGrant } from './schedule.js';

type Facts = Record<string, boolean | string | number>;

async function persist(ctx: StepContext, g: ScheduledGrant, patch: Partial<ScheduledGrant>): Promise<void> {
  Object.assign(g, patch);
  await ctx.store.save();
}

/** What this grant added, less what another live grant of the same user also added (it keeps those). */
function groupsToRemove(ctx: StepContext, g: ScheduledGrant): string[] {
  return g.groupsAdded.filter((grp) => !groupHeldByOtherGrant(ctx, g, grp, ['activating', 'active']));
}

export async function endGrant(ctx: StepContext, g: ScheduledGrant): Promise<void> {
  if (isTerminal(g)) return;
  const s = g.spec;
  const now = ctx.clock.now().toISOString();
  const why = g.revokedAt && Date.parse(g.revokedAt) < Date.parse(s.endAt) ? 'revoked' : 'ended on schedule';
  if (g.status === 'pending') {
    // Nothing was ever applied (a random name may have been reserved, never created).
    await persist(ctx, g, { status: 'ended', endedAt: now, retryAt: null });
    ctx.journal.record(s.grantId, 'ended', `${why} before it started; nothing had been applied`, { verified: { applied: false } });
    return;
  }
  if (g.status !== 'ending') await persist(ctx, g, { status: 'ending' });
  await undoOnHost(ctx, g);
  const verified = await verifyEnded(ctx, g);
  await persist(ctx, g, { status: 'ended', endedAt: now, retryAt: null, failures: 0, lastError: null });
  ctx.journal.record(s.grantId, 'ended', `${s.kind} for ${g.username} ${why}; verified on the host`, { verified });
}

/**
 * Takes away on the host everything the grant gave, and whatever was added to its account by hand
 * since: every step checks first, so this is both the end and the drift repair of an ended grant.
 */
export async function undoOnHost(ctx: StepContext, g: ScheduledGrant): Promise<void> {
  const { host } = ctx;
  const s = g.spec;
  const u = g.username!;
  if (s.kind === 'local-account') {
    const acct = await host.getAccount(u);
    const ours = !!acct && !acct.system && acct.comment === accountTag(g);
    if (ours) {
      await host.lockAccount(u);
      await host.setAccountExpiry(u, 'expired');
    }
    if (s.sudo) await host.removeSudoRule(s.grantId);
    if (ours) {
      // The account is the grant's own: no supplementary group outlives it (added by us or by hand).
      for (const grp of new Set([...g.groupsAdded, ...acct.groups])) await host.removeFromGroup(u, grp);
      await host.terminateUserProcesses(u);
      // Whatever was emailed is now worthless, even if the account is unlocked by hand later.
      await host.setPassword(u, ctx.newPassword());
      if (s.endAction === 'delete') await host.deleteAccount(u, accountTag(g));
    } else if (acct) {
      ctx.log.warn({ grantId: s.grantId, username: u }, 'account exists but is not tagged for this grant: left untouched');
    }
  } else {
    if (s.sudo) await host.removeSudoRule(s.grantId);
    for (const grp of groupsToRemove(ctx, g)) await host.removeFromGroup(u, grp);
    if (s.endSessions) await host.terminateUserProcesses(u);
  }
}

/** What must hold after the end; any miss throws so the end is retried, never reported as done. */
export async function verifyEnded(ctx: StepContext, g: ScheduledGrant): Promise<Facts> {
  const { host } = ctx;
  const s = g.spec;
  const u = g.username!;
  const facts: Facts = {};
  const problems: string[] = [];
  if (s.sudo) {
    facts.sudoRuleRemoved = !(await host.sudoRuleInstalled(s.grantId));
    if (!facts.sudoRuleRemoved) problems.push('the sudo rule is still installed');
  }
  const acct = await host.getAccount(u);
  const ours = !!acct && acct.comment === accountTag(g);
  // A grant's own account keeps no supplementary group at all; an existing user only loses ours.
  const ownAccount = s.kind === 'local-account' && ours;
  const groupsLeft = (acct?.groups ?? []).filter((x) => ownAccount || groupsToRemove(ctx, g).includes(x));
  facts.groupsRemoved = groupsLeft.length === 0;
  if (groupsLeft.length) problems.push(`still in ${groupsLeft.join(', ')}`);
  if (s.kind === 'local-account') {
    facts.accountExists = !!acct;
    if (s.endAction === 'delete' && ours) problems.push('the account still exists');
    if (acct && ours) {
      facts.locked = acct.locked;
      facts.expired = acct.expiresAt !== null && acct.expiresAt.getTime() <= ctx.clock.now().getTime();
      if (!acct.locked || !facts.expired) problems.push('the account is not locked and expired');
    }
  }
  if (acct && (s.kind === 'local-account' ? ours : s.endSessions)) {
    const left = await host.userProcesses(u);
    facts.processes = left.length;
    if (left.length) problems.push(`${left.length} process(es) still running`);
  }
  if (problems.length) throw transient(`end of grant ${s.grantId} not verified: ${problems.join('; ')}`);
  return facts;
}
