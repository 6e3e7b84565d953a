/**
 * The steps that move one grant through its life on the host. Each step checks the host before
 * changing it and records its intent in the schedule before the change, so running a step again
 * (after a crash, a retry, a restart) converges instead of failing or doing something twice.
 */
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { invalid, permanent, transient } from '../core/errors.js';
import type { CredentialDelivery } from './deliver-credentials.js';
import type { HostOperations, InstalledSudoRule } from './host/host-operations.js';
import type { Journal } from './journal.js';
import { activeFrom, effectiveEnd, isTerminal, type ScheduledGrant, type ScheduleStore } from './schedule.js';

export interface StepContext {
  host: HostOperations;
  store: ScheduleStore;
  journal: Journal;
  clock: Clock;
  log: Logger;
  /** Null when no SMTP is configured: grants asking for email delivery are then refused. */
  delivery: CredentialDelivery | null;
  hostName: string;
  newPassword: () => string;
  /** Server-chosen passwords by grant id, in memory only (the enforcer fills it from desired states). */
  passwords?: Map<string, string>;
}

/** The GECOS tag on accounts the agent creates: only a tagged account is ever changed or deleted. */
export const accountTag = (g: ScheduledGrant) => `timebox grant ${g.spec.grantId}`;

async function persist(ctx: StepContext, g: ScheduledGrant, patch: Partial<ScheduledGrant>): Promise<void> {
  Object.assign(g, patch);
  await ctx.store.save();
}

const NAME_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** `tb` + 8 random lowercase letters/digits, free as a user and a group name and in the schedule. */
export async function chooseUsername(ctx: StepContext): Promise<string> {
  const taken = ctx.store.usernames();
  for (let i = 0; i < 50; i++) {
    let name = 'tb';
    for (let j = 0; j < 8; j++) name += NAME_ALPHABET[randomInt(NAME_ALPHABET.length)];
    if (taken.has(name) || (await ctx.host.getAccount(name)) || (await ctx.host.groupExists(name))) continue;
    return name;
  }
  throw transient('no free random user name after 50 tries');
}

async function desiredGroups(ctx: StepContext, g: ScheduledGrant): Promise<string[]> {
  const role = g.spec.kind === 'local-account' ? await ctx.host.roleGroups(g.spec.role) : [];
  return [...new Set([...role, ...g.spec.groups])];
}

function sudoInstall(g: ScheduledGrant): InstalledSudoRule {
  return { username: g.username!, rule: g.spec.sudo!, notBefore: new Date(activeFrom(g)), notAfter: new Date(effectiveEnd(g)) };
}

/**
 * Another unfinished grant of the same user that added `grp`. Overlapping grants of one user share
 * a group: whoever ends last removes it, so the end of one never takes it from the other.
 */
export function groupHeldByOtherGrant(ctx: StepContext, g: ScheduledGrant, grp: string, statuses: readonly ScheduledGrant['status'][]): boolean {
  return ctx.store.grants().some((o) => o !== g && o.username === g.username && statuses.includes(o.status) && o.groupsAdded.includes(grp));
}

/** Host-side checks before anything is applied; `invalid`/`permanent` errors reject the grant. */
export async function admit(ctx: StepContext, g: ScheduledGrant): Promise<void> {
  if (g.admitted) return;
  const { host } = ctx;
  const s = g.spec;
  let baseline: string[] | null = null;
  if (s.kind === 'local-account') {
    if (s.passwordDelivery && !ctx.delivery) throw invalid('the grant asks for the password by email but this agent has no SMTP settings');
    if (!g.username) await persist(ctx, g, { username: await chooseUsername(ctx) });
    const u = g.username!;
    const acct = await host.getAccount(u);
    if (acct?.system) throw permanent(`user ${u} is an existing system account (uid ${acct.uid}); the agent never manages those`);
    if (acct && acct.comment !== accountTag(g)) throw permanent(`user ${u} already exists; a local-account grant only creates new accounts`);
    if (!acct && (await host.groupExists(u))) throw permanent(`a group named ${u} already exists; choose another user name`);
    if (ctx.store.grants().some((o) => o !== g && o.username === u && !isTerminal(o))) {
      throw permanent(`user name ${u} is already used by another scheduled grant`);
    }
  } else {
    const acct = await host.getAccount(g.username!);
    if (!acct) throw invalid(`user ${g.username} does not exist on this host`);
    baseline = acct.groups;
    if (acct.system) throw permanent(`user ${g.username} is a system account (uid ${acct.uid}); the agent never manages those`);
    // A Timebox local account belongs to its own grant (and is deleted at its end).
    if (acct.comment.startsWith('timebox grant ')) throw permanent(`user ${g.username} is a temporary account of another Timebox grant`);
  }
  for (const grp of await desiredGroups(ctx, g)) {
    if (!(await host.groupExists(grp))) throw invalid(`group ${grp} does not exist on this host`);
  }
  if (s.sudo) await host.validateSudoRule(s.grantId, sudoInstall(g));
  await persist(ctx, g, { admitted: true, groupsAtAdmission: baseline });
  ctx.journal.record(s.grantId, 'accepted', `${s.kind} for ${g.username} from ${s.startAt} until ${s.endAt} accepted`);
}

/** Local accounts: created at once, disabled (locked + expired), with a random password emailed. */
export async function provision(ctx: StepContext, g: ScheduledGrant): Promise<void> {
  if (g.status !== 'pending' && g.status !== 'provisioning') return;
  const { host } = ctx;
  const u = g.username!;
  if (g.status === 'pending') await persist(ctx, g, { status: 'provisioning' });
  await host.createDisabledAccount(u, accountTag(g));
  await host.lockAccount(u);
  await host.setAccountExpiry(u, 'expired');
  const delivery = g.spec.passwordDelivery;
  // The password is never stored: if the agent died before the email went out, a new one is set and sent.
  if (!g.passwordSet || (delivery && !g.credentialsDelivered)) {
    let password: string;
    if (g.spec.serverPassword) {
      // The owner was shown this one by the server: no other may be set in its place.
      const given = ctx.passwords?.get(g.spec.grantId);
      if (!given) throw transient('waiting for the password from the server');
      password = given;
    } else {
      password = ctx.newPassword();
    }
    await host.setPassword(u, password);
    await persist(ctx, g, { passwordSet: true });
    ctx.passwords?.delete(g.spec.grantId);
    if (delivery) {
      await ctx.delivery!.deliver({
        to: delivery.to,
        username: u,
        password,
        hostName: ctx.hostName,
        startAt: new Date(g.spec.startAt),
        endAt: new Date(g.spec.endAt),
        endAction: g.spec.endAction,
      });
      await persist(ctx, g, { credentialsDelivered: true });
      ctx.journal.record(g.spec.grantId, 'credentials-delivered', `credentials for ${u} emailed to ${delivery.to}`);
    }
  }
  const acct = await host.getAccount(u);
  const verified = { exists: !!acct, locked: !!acct?.locked, expired: isExpired(acct?.expiresAt ?? null, ctx.clock) };
  if (!acct?.locked || !verified.expired) throw transient(`account ${u} is not disabled after provisioning`);
  await persist(ctx, g, { status: 'provisioned' });
  ctx.journal.record(g.spec.grantId, 'provisioned', `account ${u} created, disabled until ${new Date(activeFrom(g)).toISOString()}`, { verified });
}

const isExpired = (at: Date | null, clock: Clock) => at !== null && at.getTime() <= clock.now().getTime();

/** Grants access: groups (remembering which were already held), the sudo rule, the account itself. */
export async function activate(ctx: StepContext, g: ScheduledGrant): Promise<void> {
  const { host } = ctx;
  const s = g.spec;
  const u = g.username!;
  if (s.kind === 'local-account') await provision(ctx, g);
  if (g.status !== 'activating') await persist(ctx, g, { status: 'activating' });
  for (const grp of await desiredGroups(ctx, g)) {
    if (g.groupsHeldBefore.includes(grp)) continue;
    if (!g.groupsAdded.includes(grp)) {
      // Held through another live grant: shared, not "held before", or the other's end would strand it.
      if ((await host.groupMembers(grp)).includes(u) && !groupHeldByOtherGrant(ctx, g, grp, ['pending', 'provisioning', 'provisioned', 'activating', 'active', 'ending'])) {
        await persist(ctx, g, { groupsHeldBefore: [...g.groupsHeldBefore, grp] });
        continue;
      }
      await persist(ctx, g, { groupsAdded: [...g.groupsAdded, grp] });
    }
    await host.addToGroup(u, grp);
  }
  if (s.sudo) await host.installSudoRule(s.grantId, sudoInstall(g));
  if (s.kind === 'local-account') {
    // The expiry backstop goes on before the lock comes off: never enabled without an end date.
    await host.setAccountExpiry(u, new Date(effectiveEnd(g)));
    await host.unlockAccount(u);
  }
  const acct = await host.getAccount(u);
  const verified: Record<string, boolean | string> = { groups: (acct?.groups ?? []).filter((x) => g.groupsAdded.includes(x)).join(',') };
  if (s.sudo) verified.sudoRule = await host.sudoRuleInstalled(s.grantId);
  if (s.kind === 'local-account') verified.unlocked = !!acct && !acct.locked;
  await persist(ctx, g, { status: 'active' });
  ctx.journal.record(s.grantId, 'activated', `${s.kind} for ${u} active until ${new Date(effectiveEnd(g)).toISOString()}`, {
    idSuffix: String(effectiveEnd(g)),
    verified,
  });
}
