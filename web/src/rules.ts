/**
 * The account-name rules of each target kind, mirrored from the server so mistakes show while
 * typing. The server still checks everything; an unknown kind gets no client-side rule.
 */

type Rule = (name: string) => string | null;

const postgresAccountName: Rule = (name) => {
  if (name.length < 3 || name.length > 63) return 'Use 3 to 63 characters.';
  if (!/^[a-z0-9_]+$/.test(name)) return 'Use only lowercase letters, digits and underscores (no quotes, spaces or dashes).';
  if (!/^[a-z]/.test(name)) return 'Start with a lowercase letter.';
  if (name.startsWith('pg_')) return 'Names starting with "pg_" are reserved by PostgreSQL.';
  return null;
};

/** sAMAccountName: at most 20 ASCII letters, digits, _ - . (the server's rule, short form). */
const adAccountName: Rule = (name) => {
  if (name.length > 20) return 'Use at most 20 characters (the Active Directory limit).';
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) return 'Use only ASCII letters, digits, "_", "-" and ".".';
  if (name.endsWith('.')) return 'Do not end the name with a dot.';
  return null;
};

const rules: Record<string, Rule> = { postgres: postgresAccountName, 'active-directory': adAccountName };

export function accountNameProblem(kind: string, name: string): string | null {
  if (!name.trim()) return 'Enter a username.';
  return rules[kind]?.(name) ?? null;
}

/** Same default as the server: `alice.smith@example.com` → `alice_smith_jit`. */
export function defaultAccountName(email: string, maxLength = 20): string {
  const base = (email.split('@')[0] ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^[^a-z]+/, '')
    .replace(/_+$/, '');
  const stem = (base || 'user').slice(0, Math.max(1, maxLength - 4)).replace(/_+$/, '');
  return `${stem}_jit`;
}

export const kindLabel = (kind: string): string =>
  (
    {
      postgres: 'PostgreSQL',
      'active-directory': 'Active Directory',
      'active-directory-groups': 'Active Directory groups',
      fake: 'Test target',
    } as Record<string, string>
  )[kind] ?? kind;
