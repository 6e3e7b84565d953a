/**
 * Every target kind the server registers (src/connectors/registry.ts via src/server/start.ts):
 * its label and help, the form's starting values, the client-side checks, the config object sent,
 * and which form field a server message about a config path belongs to. The server validates
 * again; its per-field messages are placed at the fields they name (config-errors.ts).
 */
import type { CredentialKind } from '../../wizard/credential-kinds';
import * as conn from './connection-kinds';
import * as cred from './credential-kinds';
import * as host from './linux-agent-kind';
import type { SudoRuleDraft } from './linux-agent-kind';

export type TargetKind =
  | 'postgres'
  | 'active-directory'
  | 'active-directory-groups'
  | 'linux-agent'
  | 'linux-agent-users'
  | CredentialKind;

/** Text and switch values by config field; switches are 'true' or 'false'. */
export type ConfigValues = Record<string, string>;

/** What the form holds for one kind: plain fields and, for host targets, the sudo rules. */
export interface TargetDraft {
  values: ConfigValues;
  sudoRules: SudoRuleDraft[];
}

/** Messages by form field ('name', 'form', a config field, or `sudoRules.<rule key>.<field>`). */
export type DraftErrors = Record<string, string>;

export interface KindInfo {
  kind: TargetKind;
  label: string;
  /** One sentence under the kind picker: what a grant does there. */
  help: string;
}

export const kindInfos: KindInfo[] = [
  { kind: 'postgres', label: 'PostgreSQL', help: 'A grant enables the person’s own JIT login role with the chosen roles, until the grant ends.' },
  { kind: 'active-directory', label: 'Active Directory', help: 'A grant enables a personal JIT account in an OU of its own, in the chosen groups.' },
  { kind: 'active-directory-groups', label: 'Active Directory groups', help: 'A grant adds the person’s own directory account to the chosen groups for a time.' },
  { kind: 'linux-agent', label: 'Linux host (agent)', help: 'A grant gives a temporary local account, groups or a sudo rule on a host, through its enrolled agent.' },
  {
    kind: 'linux-agent-users',
    label: 'Linux host, existing users (agent)',
    help: 'A grant gives a person’s existing user on a host a sudo rule or groups for a time, through its enrolled agent; no account is created.',
  },
  { kind: 'ssh-certificate', label: 'SSH certificates', help: 'A grant signs an SSH certificate for the chosen principals, valid exactly for the grant.' },
  { kind: 'x509-certificate', label: 'X.509 client certificates', help: 'A grant issues a TLS client certificate carrying the chosen roles, valid exactly for the grant.' },
  { kind: 'security-token', label: 'Security tokens (JWT)', help: 'A grant issues a signed token for an API with the chosen scopes, valid exactly for the grant.' },
];

export const kindLabelOf = (kind: string): string | undefined => kindInfos.find((k) => k.kind === kind)?.label;

export function initialDraft(kind: TargetKind): TargetDraft {
  switch (kind) {
    case 'postgres':
    case 'active-directory':
    case 'active-directory-groups':
      return { values: { ...conn.initialValues[kind] }, sudoRules: [] };
    case 'linux-agent':
    case 'linux-agent-users':
      return { values: { ...host.initialValues }, sudoRules: [] };
    default:
      return { values: { ...cred.initialValues[kind] }, sudoRules: [] };
  }
}

export function draftProblems(kind: TargetKind, d: TargetDraft): DraftErrors {
  switch (kind) {
    case 'postgres':
    case 'active-directory':
    case 'active-directory-groups':
      return conn.configProblems(kind, d.values);
    case 'linux-agent':
    case 'linux-agent-users':
      return host.configProblems(d.values, d.sudoRules);
    default:
      return cred.configProblems(kind, d.values);
  }
}

export function configOf(kind: TargetKind, d: TargetDraft): Record<string, unknown> {
  switch (kind) {
    case 'postgres':
    case 'active-directory':
    case 'active-directory-groups':
      return conn.configOf(kind, d.values);
    case 'linux-agent':
      return host.configOf(d.values, d.sudoRules);
    case 'linux-agent-users':
      return host.configOf(d.values, d.sudoRules, { existingUsers: true });
    default:
      return cred.configOf(kind, d.values);
  }
}

/**
 * The form field a server message about `path` (inside the config) belongs to, or null for the
 * form-level message. `path` is empty for a rule about the whole config.
 */
export function fieldOfPath(kind: TargetKind, d: TargetDraft, path: string[]): string | null {
  if (kind === 'linux-agent' || kind === 'linux-agent-users') return host.fieldOfPath(d.sudoRules, path);
  if (kind === 'ssh-certificate' && path.length === 0) return 'principalsAllowed';
  const first = path[0];
  return first !== undefined && first in d.values ? first : null;
}

const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]*$/;

/** The server's rule for target names (src/http/routes/target-routes.ts). */
export function targetNameProblem(name: string): string | undefined {
  if (!name.trim()) return 'Give the target a name.';
  if (name.trim().length > 64) return 'Use at most 64 characters.';
  if (!TARGET_NAME.test(name.trim())) return 'Use letters, digits, spaces, dots, underscores and hyphens.';
  return undefined;
}
