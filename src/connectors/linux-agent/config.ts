/**
 * Host targets through an enrolled agent. `linux-agent`: one enrolled agent (one host), the sudo
 * rules and local groups its grants may use, and how the new account's password reaches its user.
 * `linux-agent-users`: the same host, the same rules and groups, given to existing users (no
 * account, no password). Names are checked with the agent's own rules (src/agent-wire/names.ts), so
 * what the server accepts the agent accepts too.
 */
import { z } from 'zod';
import type { AccountNameRules } from '../../core/target-kinds.js';
import { accountNameProblem } from '../../agent-wire/names.js';
import { SudoRuleSchema, type LocalRole } from '../../agent-wire/protocol.js';

export const LINUX_AGENT_KIND = 'linux-agent';
export const LINUX_AGENT_USERS_KIND = 'linux-agent-users';
/** Kinds whose config names an enrolled agent (one target of each kind per agent). */
export const AGENT_TARGET_KINDS: readonly string[] = [LINUX_AGENT_KIND, LINUX_AGENT_USERS_KIND];
export const ROLES: readonly LocalRole[] = ['administrators', 'power-users', 'users'];
export const RULE_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

const groupName = z.string().superRefine((v, ctx) => {
  const p = accountNameProblem(v, 'group name');
  if (p) ctx.addIssue({ code: 'custom', message: p });
});

export const LinuxAgentConfigSchema = z.strictObject({
  /** The enrolled agent (GET /api/v1/tenants/:tenant/agents). */
  agentId: z.guid({ error: 'agentId must be an agent id (UUID)' }).meta({ title: 'Agent', description: 'The enrolled agent of the host.', 'x-widget': 'agent' }),
  /** Elevations offered as `sudo:<name>` entitlements. */
  sudoRules: z
    .record(z.string().regex(RULE_NAME_RE, { error: `sudo rule names must match ${RULE_NAME_RE.source}` }), SudoRuleSchema)
    .default({})
    .refine((r) => Object.keys(r).length <= 32, { error: 'at most 32 sudo rules' })
    .meta({ title: 'Sudo rules', description: 'Offered as sudo:<name> entitlements.', 'x-widget': 'sudo-rules' }),
  /** Local groups offered as `group:<name>` entitlements (they must exist on the host). */
  groups: z
    .array(groupName)
    .max(64)
    .default([])
    .meta({ title: 'Local groups that may be granted', description: 'Offered as group:<name> entitlements, one per line or comma-separated; they must exist on the host.' }),
  /**
   * reveal: Timebox generates the password and shows it once to the account's owner; it reaches
   * the agent inside the signed, TLS-protected desired state. server-email: the same password,
   * emailed by the server through the tenant's SMTP settings once the agent reports the account
   * created, and never shown in Timebox. agent-email (Trigger-it): the agent generates it and
   * emails the credentials from the host (its agent.json needs SMTP settings).
   */
  credentialDelivery: z
    .enum(['reveal', 'server-email', 'agent-email'])
    .default('reveal')
    .meta({
      title: 'Password delivery',
      description: 'reveal: shown once in Timebox; server-email: mailed by the server; agent-email: generated and mailed by the agent on the host.',
    }),
  /** server-email, agent-email: the end user's address; default the requester's own. */
  emailTo: z.email().optional().meta({ title: 'Send to (optional)', description: 'For e-mail delivery: the end user’s address; the requester’s own when empty.' }),
});
export type LinuxAgentConfig = z.infer<typeof LinuxAgentConfigSchema>;

/** `linux-agent-users`: existing users get the rules and groups; nothing is created, no password. */
export const LinuxAgentUsersConfigSchema = LinuxAgentConfigSchema.omit({ credentialDelivery: true, emailTo: true });
export type LinuxAgentUsersConfig = z.infer<typeof LinuxAgentUsersConfigSchema>;

/** Linux system and service accounts a JIT account must never be named after (the agent also refuses uid < 1000). */
const RESERVED = new Set(
  (
    'root daemon bin sys sync games man lp mail news uucp proxy www-data backup list irc gnats nobody nogroup adm admin ' +
    'wheel sudo sshd messagebus syslog polkitd dbus avahi colord rtkit tss uuidd tcpdump landscape pollinate usbmux lxd ' +
    'dnsmasq chrony ntp postfix dovecot nginx apache httpd redis docker kvm libvirt-qemu postgres mysql ftp operator ' +
    'halt shutdown ubuntu debian centos fedora ec2-user cloud-user opc vagrant'
  ).split(' '),
);

/** What linuxAccountNameProblem and existingUserNameProblem check, as data for forms. */
export const linuxAccountNameRules: AccountNameRules = {
  minLength: 1,
  maxLength: 32,
  pattern: '^[a-z_][a-z0-9_-]{0,31}$',
  reserved: [...RESERVED],
  reservedPrefixes: ['systemd-', '_'],
  hint: 'Up to 32 lowercase letters, digits, "_" and "-", starting with a letter; not a system account.',
};

const isSystemName = (name: string) => RESERVED.has(name) || name.startsWith('systemd-') || name.startsWith('_');

/** Why `name` cannot be a JIT account on a Linux host, or null. */
export function linuxAccountNameProblem(name: string): string | null {
  const p = accountNameProblem(name, 'account name');
  if (p) return p;
  if (isSystemName(name)) return `account name "${name}" is a Linux system or service account; choose a personal name such as "ann_jit"`;
  return null;
}

/** Why `name` cannot be the existing user a `linux-agent-users` grant changes, or null (the agent also refuses uid < 1000). */
export function existingUserNameProblem(name: string): string | null {
  const p = accountNameProblem(name, 'user name');
  if (p) return p;
  if (isSystemName(name)) return `user "${name}" is a Linux system or service account; ask for your own user on the host`;
  return null;
}

/** `linux-agent-users` entitlements: sudo rules and groups; the roles belong to new local accounts. */
export function usersEntitlementNameProblem(name: string): string | null {
  if ((ROLES as readonly string[]).includes(name)) {
    return `${name} is a role for new local accounts (linux-agent targets); for an existing user ask for sudo:<rule> or group:<name>`;
  }
  const p = entitlementNameProblem(name);
  return p ? p.replace('use administrators, power-users, users, sudo:<rule> or group:<name>', 'use sudo:<rule> or group:<name>') : null;
}

export function entitlementNameProblem(name: string): string | null {
  if ((ROLES as readonly string[]).includes(name)) return null;
  if (name.startsWith('sudo:')) {
    return RULE_NAME_RE.test(name.slice(5)) ? null : `sudo entitlement ${JSON.stringify(name.slice(0, 40))} must be sudo:<rule name> (${RULE_NAME_RE.source})`;
  }
  if (name.startsWith('group:')) {
    const p = accountNameProblem(name.slice(6), 'group name');
    return p ? `entitlement ${JSON.stringify(name.slice(0, 40))}: ${p}` : null;
  }
  return `unknown entitlement ${JSON.stringify(name.slice(0, 40))}: use administrators, power-users, users, sudo:<rule> or group:<name>`;
}

/** Request-level checks: one role at most, one sudo rule at most. */
export function entitlementSetProblem(entitlements: string[]): string | null {
  const roles = entitlements.filter((e) => (ROLES as readonly string[]).includes(e));
  if (roles.length > 1) return `choose one of administrators, power-users or users, not ${roles.join(' and ')}`;
  const sudo = entitlements.filter((e) => e.startsWith('sudo:'));
  if (sudo.length > 1) return `one sudo rule per grant (asked: ${sudo.join(', ')})`;
  return null;
}
