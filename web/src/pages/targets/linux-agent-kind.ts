/**
 * Host targets through an enrolled agent (src/connectors/linux-agent/config.ts): which agent, the
 * sudo rules offered as `sudo:<name>` entitlements, local groups offered as `group:<name>`, and
 * (`linux-agent`, new local accounts) how the account's password reaches its user;
 * `linux-agent-users` gives the same to existing users, with no account and no password. Rule names are record keys on the server, whose
 * own message for a bad key says little, so they are checked here with the server's pattern.
 */
import { linesOf, wordsOf } from './lists';
import type { ConfigValues } from './target-kinds';

/** The server's RULE_NAME_RE. */
const RULE_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const RULE_FIELDS = ['name', 'runAs', 'commands'] as const;

export interface SudoRuleDraft {
  /** Stable across renames, for React and for error keys. */
  key: string;
  name: string;
  /** Comma-separated users the grantee may act as; empty means root. */
  runAs: string;
  /** One command per line: an absolute path with arguments, or ALL. */
  commands: string;
  noPassword: boolean;
}

let nextKey = 0;
export const newSudoRule = (): SudoRuleDraft => ({ key: `rule-${++nextKey}`, name: '', runAs: 'root', commands: '', noPassword: true });

export const initialValues: ConfigValues = { agentId: '', groups: '', credentialDelivery: 'reveal', emailTo: '' };

/** The error key of one field of one rule. */
export const ruleErrorKey = (rule: SudoRuleDraft, field: (typeof RULE_FIELDS)[number]) => `sudoRules.${rule.key}.${field}`;

export function configProblems(v: ConfigValues, rules: SudoRuleDraft[]): ConfigValues {
  const e: ConfigValues = {};
  if (!v.agentId) e.agentId = 'Choose the agent of the host.';
  const seen = new Set<string>();
  for (const r of rules) {
    const name = r.name.trim();
    if (!name) e[ruleErrorKey(r, 'name')] = 'Give the rule a name: people ask for it as sudo:<name>.';
    else if (!RULE_NAME.test(name)) e[ruleErrorKey(r, 'name')] = 'Use up to 32 lowercase letters, digits, _ and -, starting with a letter or digit.';
    else if (seen.has(name)) e[ruleErrorKey(r, 'name')] = `Another rule is already named ${name}.`;
    seen.add(name);
    if (linesOf(r.commands).length === 0) e[ruleErrorKey(r, 'commands')] = 'List at least one command (an absolute path, or ALL).';
  }
  if (rules.length > 32) e.sudoRules = 'At most 32 sudo rules.';
  return e;
}

export function configOf(v: ConfigValues, rules: SudoRuleDraft[], opts: { existingUsers?: boolean } = {}): Record<string, unknown> {
  const runAs = (r: SudoRuleDraft) => {
    const users = wordsOf(r.runAs);
    return users.length ? users : ['root'];
  };
  return {
    agentId: v.agentId,
    sudoRules: Object.fromEntries(rules.map((r) => [r.name.trim(), { runAs: runAs(r), commands: linesOf(r.commands), noPassword: r.noPassword }])),
    groups: wordsOf(v.groups),
    ...(opts.existingUsers
      ? {}
      : {
          credentialDelivery: v.credentialDelivery,
          ...(v.credentialDelivery !== 'reveal' && v.emailTo?.trim() ? { emailTo: v.emailTo.trim() } : {}),
        }),
  };
}

/** `sudoRules.<rule name>.commands.0` → that rule's commands field; other fields by their name. */
export function fieldOfPath(rules: SudoRuleDraft[], path: string[]): string | null {
  const [first, ruleName, field] = path;
  if (first === 'sudoRules') {
    const rule = ruleName === undefined ? undefined : rules.find((r) => r.name.trim() === ruleName);
    if (!rule) return 'sudoRules';
    return ruleErrorKey(rule, field === 'runAs' || field === 'commands' ? field : 'name');
  }
  return first !== undefined && first in initialValues ? first : null;
}
