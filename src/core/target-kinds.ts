/**
 * The target kinds this project ships, as one union the compiler checks: the server's registry is
 * a `Record<TargetKind, …>` (src/server/start.ts), so a kind added here without a connector, or a
 * connector without its kind here, does not compile. What each kind offers (its config schema,
 * labels, name rules, capabilities) is declared once, by its connector definition, and served by
 * `GET /api/v1/target-kinds`.
 */
export const TARGET_KINDS = [
  'postgres',
  'mariadb',
  'active-directory',
  'active-directory-groups',
  'linux-agent',
  'linux-agent-users',
  'ssh-certificate',
  'x509-certificate',
  'security-token',
] as const;

export type TargetKind = (typeof TARGET_KINDS)[number];

/**
 * Kinds whose JIT account is a user that already exists, named by the person at their first
 * request: nothing in the name proves it is theirs, so an administrator confirms the binding
 * (an AD user whose userPrincipalName is the person's address needs no confirmation).
 */
export const EXISTING_USER_KINDS: readonly TargetKind[] = ['active-directory-groups', 'linux-agent-users'];

export const bindsExistingUser = (kind: string): boolean => (EXISTING_USER_KINDS as readonly string[]).includes(kind);

export const isTargetKind = (kind: string): kind is TargetKind => (TARGET_KINDS as readonly string[]).includes(kind);

/**
 * Account names a kind accepts, as data a form can check before sending (the connector's
 * `validateAccountName` stays the judge and says why in words). `pattern` is an ECMAScript
 * regular expression over the whole name; names in `reserved` and names starting with one of
 * `reservedPrefixes` are refused whatever the pattern says.
 */
export interface AccountNameRules {
  minLength: number;
  maxLength: number;
  pattern: string;
  reserved: readonly string[];
  reservedPrefixes: readonly string[];
  /** One sentence for a person: what a good name looks like. */
  hint: string;
}

/** Checks a name against the rules alone: the first rule broken, as a code, or null. */
export function accountNameRuleBroken(rules: AccountNameRules, name: string): 'length' | 'pattern' | 'reserved' | null {
  const length = [...name].length;
  if (length < rules.minLength || length > rules.maxLength) return 'length';
  if (!new RegExp(rules.pattern, 'u').test(name)) return 'pattern';
  const lower = name.toLowerCase();
  if (rules.reserved.includes(lower) || rules.reservedPrefixes.some((p) => lower.startsWith(p))) return 'reserved';
  return null;
}
