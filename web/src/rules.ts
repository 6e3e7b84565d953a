/**
 * Account-name checks while typing, from the rules each kind serves as data (GET /target-kinds):
 * the same rules the server applies first; the server still checks everything and says why.
 */
import { accountNameRuleBroken, type AccountNameRules } from '../../src/core/target-kinds.js';

/** The first problem with `name` under the kind's rules; none known (kinds not loaded yet): only emptiness. */
export function accountNameProblem(rules: AccountNameRules | undefined, name: string): string | null {
  if (!name.trim()) return 'Enter a username.';
  if (!rules) return null;
  switch (accountNameRuleBroken(rules, name)) {
    case 'length':
      return `Use ${rules.minLength} to ${rules.maxLength} characters.`;
    case 'pattern':
      return rules.hint;
    case 'reserved':
      return 'This name is reserved on this kind of target; choose another.';
    default:
      return null;
  }
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
