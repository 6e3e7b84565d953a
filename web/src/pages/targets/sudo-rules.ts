/**
 * The value of the sudo-rules field (host targets, `x-widget: 'sudo-rules'`): rules as the form
 * edits them, each asked for as `sudo:<name>`, and the config record the server takes.
 */

/** Commands may hold commas: one per line. */
const linesOf = (text: string) =>
  text
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);

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

/** The error key of one field of one rule. */
export const ruleErrorKey = (rule: SudoRuleDraft, field: (typeof RULE_FIELDS)[number]) => `sudoRules.${rule.key}.${field}`;

interface StoredRule {
  runAs?: string[];
  commands?: string[];
  noPassword?: boolean;
}

export function rulesFromConfig(stored: unknown): SudoRuleDraft[] {
  if (!stored || typeof stored !== 'object') return [];
  return Object.entries(stored as Record<string, StoredRule>).map(([name, r]) => ({
    ...newSudoRule(),
    name,
    runAs: (r.runAs ?? ['root']).join(', '),
    commands: (r.commands ?? []).join('\n'),
    noPassword: r.noPassword ?? true,
  }));
}

export function rulesToConfig(rules: SudoRuleDraft[]): Record<string, StoredRule> {
  return Object.fromEntries(
    rules.map((r) => {
      const runAs = r.runAs.split(/[\n,]/).map((u) => u.trim()).filter(Boolean);
      return [r.name.trim(), { runAs: runAs.length ? runAs : ['root'], commands: linesOf(r.commands), noPassword: r.noPassword }];
    }),
  );
}

/** `<rule name>.commands.0` → that rule's commands field; a rule the message does not name → the list. */
export function ruleFieldOfPath(rules: SudoRuleDraft[], rest: string[]): string {
  const [ruleName, field] = rest;
  const rule = ruleName === undefined ? undefined : rules.find((r) => r.name.trim() === ruleName);
  if (!rule) return 'sudoRules';
  return ruleErrorKey(rule, field === 'runAs' || field === 'commands' ? field : 'name');
}
