/**
 * A `linux-agent` target: one enrolled agent (one host), the sudo rules and local groups its
 * grants may use, and how the new account's password reaches its user. Names are checked with the
 * agent's own rules (src/agent/names.ts), so what the server accepts the agent accepts too.
 */
import { z } from 'zod';
import { accountNameProblem } from '../../agent/names.js';
import { SudoRuleSchema, type LocalRole } from '../../agent/protocol.js';

export const LINUX_AGENT_KIND = 'linux-agent';
export const ROLES: readonly LocalRole[] = ['administrators', 'power-users', 'users'];
export const RULE_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

const groupName = z.string().superRefine((v, ctx) => {
  const p = accountNameProblem(v, 'group name');
  if (p) ctx.addIssue({ code: 'custom', message: p });
});

export const LinuxAgentConfigSchema = z.strictObject({
  /** The enrolled agent (GET /api/v1/tenants/:tenant/agents). */
  agentId: z.uuid({ error: 'agentId must be an agent id (UUID)' }),
  /** Elevations offered as `sudo:<name>` entitlements. */
  sudoRules: z
    .record(z.string().regex(RULE_NAME_RE, { error: `sudo rule names must match ${RULE_NAME_RE.source}` }), SudoRuleSchema)
    .default({})
    .refine((r) => Object.keys(r).length <= 32, { error: 'at most 32 sudo rules' }),
  /** Local groups offered as `group:<name>` entitlements (they must exist on the host). */
  groups: z.array(groupName).max(64).default([]),
  /**
   * reveal: Timebox generates the password and shows it once to the account's owner; it reaches
   * the agent inside the signed, TLS-protected desired state. agent-email (Trigger-it): the agent
   * generates it and emails the credentials from the host (its agent.json needs SMTP settings).
   */
  credentialDelivery: z.enum(['reveal', 'agent-email']).default('reveal'),
  /** agent-email: the end user's address; default the requester's own. */
  emailTo: z.email().optional(),
});
export type LinuxAgentConfig = z.infer<typeof LinuxAgentConfigSchema>;

/** Linux system and service accounts a JIT account must never be named after (the agent also refuses uid < 1000). */
const RESERVED = new Set(
  (
    'root daemon bin sys sync games man lp mail news uucp proxy www-data backup list irc gnats nobody nogroup adm admin ' +
    'wheel sudo sshd messagebus syslog polkitd dbus avahi colord rtkit tss uuidd tcpdump landscape pollinate usbmux lxd ' +
    'dnsmasq chrony ntp postfix dovecot nginx apache httpd redis docker kvm libvirt-qemu postgres mysql ftp operator ' +
    'halt shutdown ubuntu debian centos fedora ec2-user cloud-user opc vagrant'
  ).split(' '),
);

/** Why `name` cannot be a JIT account on a Linux host, or null. */
export function linuxAccountNameProblem(name: string): string | null {
  const p = accountNameProblem(name, 'account name');
  if (p) return p;
  if (RESERVED.has(name) || name.startsWith('systemd-') || name.startsWith('_')) {
    return `account name "${name}" is a Linux system or service account; choose a personal name such as "ann_jit"`;
  }
  return null;
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
