/**
 * What Timebox accepts as names on Active Directory, checked before anything reaches the DC.
 * Account names are sAMAccountNames (the "pre-Windows 2000" logon name); entitlements are group DNs.
 */
import type { AccountNameRules } from '../../core/target-kinds.js';
import { parseDn } from './dn.js';

/** Length of the passwords Timebox generates for this kind (passwordPolicy.length). */
export const PASSWORD_LENGTH = 24;

/** AD refuses longer sAMAccountNames for users (Samba accepts them: the check must be ours). */
export const MAX_ACCOUNT_NAME = 20;
/** Characters Active Directory never allows in a sAMAccountName. */
const AD_FORBIDDEN = /["/\\[\]:;|=,+*?<>@]/;
const AD_FORBIDDEN_LIST = '" / \\ [ ] : ; | = , + * ? < > @';

const show = (s: string) => JSON.stringify(s);

export function validateAccountName(name: string): string | null {
  const length = [...name].length;
  if (length === 0) return 'The account name is empty: Active Directory needs a sAMAccountName of 1 to 20 characters';
  if (length > MAX_ACCOUNT_NAME) {
    return `Account names may be at most ${MAX_ACCOUNT_NAME} characters, the Active Directory limit for sAMAccountName; ${show(name)} has ${length}`;
  }
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    return `Account names may not contain control characters such as tabs or line breaks (got ${show(name)})`;
  }
  const forbidden = AD_FORBIDDEN.exec(name)?.[0];
  if (forbidden) {
    return `Account name ${show(name)} contains "${forbidden}", which Active Directory does not allow in a sAMAccountName (none of ${AD_FORBIDDEN_LIST})`;
  }
  const nonAscii = /[^\x00-\x7f]/u.exec(name)?.[0];
  if (nonAscii) {
    return `Account name ${show(name)} contains "${nonAscii}": Timebox accepts only ASCII letters, digits, "_", "-" and "." so the name can be typed on any keyboard and in every logon prompt`;
  }
  if (/^[. ]+$/.test(name)) return `Account names cannot consist only of dots and spaces (got ${show(name)})`;
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    return `Account names may only contain ASCII letters, digits, "_", "-" and "." (got ${show(name)})`;
  }
  if (name.endsWith('.')) return `Account names may not end with a dot, which Windows strips from logon names (got ${show(name)})`;
  return null;
}

/**
 * Built-in accounts and well-known principals of every domain (compared ignoring case, as AD
 * does): never a JIT account, even where the domain has renamed or removed them. `krbtgt_<n>` are
 * the read-only DCs' Kerberos accounts.
 */
export const RESERVED_ACCOUNT_NAMES: ReadonlySet<string> = new Set(
  (
    'administrator guest krbtgt defaultaccount wdagutilityaccount ' +
    'administrators users guests replicator dnsadmins dnsupdateproxy system everyone ' +
    'iusr iwam local_service network_service localsystem localservice networkservice'
  ).split(' '),
);

/** What validateAccountName checks, as data for forms (a person's existing account). */
export const accountNameRules: AccountNameRules = {
  minLength: 1,
  maxLength: MAX_ACCOUNT_NAME,
  pattern: '^[A-Za-z0-9_.-]*[A-Za-z0-9_-]$',
  reserved: [],
  reservedPrefixes: [],
  hint: `Up to ${MAX_ACCOUNT_NAME} ASCII letters, digits, "_", "-" and "." (a sAMAccountName), not ending with a dot.`,
};

/** What validateJitAccountName checks, as data for forms. */
export const jitAccountNameRules: AccountNameRules = { ...accountNameRules, reserved: [...RESERVED_ACCOUNT_NAMES] };

/** JIT accounts: the sAMAccountName rules plus the reserved names above. */
export function validateJitAccountName(name: string): string | null {
  const problem = validateAccountName(name);
  if (problem) return problem;
  const lower = name.toLowerCase();
  if (RESERVED_ACCOUNT_NAMES.has(lower) || /^krbtgt_\d+$/.test(lower)) {
    return `"${name}" is a built-in Active Directory account or well-known principal and cannot be a JIT account; choose a personal name such as "ann_jit"`;
  }
  return null;
}

/**
 * Entitlements are group distinguished names ("CN=Server Admins,OU=Groups,DC=example,DC=com"):
 * unambiguous across OUs and domains, where a group's sAMAccountName or CN may not be, and
 * exactly what `member`/`memberOf` hold, so findings name the group an admin sees in ADUC.
 */
export function validateEntitlementName(name: string): string | null {
  const example = '"CN=Server Admins,OU=Groups,DC=example,DC=com"';
  if (name.length > 2048) return `Group DNs longer than 2048 characters are not accepted (got ${name.length})`;
  let rdns;
  try {
    rdns = parseDn(name);
  } catch (err) {
    return `Entitlements are group distinguished names such as ${example}; ${show(name)} is not one: ${(err as Error).message}`;
  }
  const first = rdns[0]!;
  if (first.length !== 1 || first[0]!.type.toLowerCase() !== 'cn' || rdns.length < 2) {
    return `Entitlements are group distinguished names starting with CN=, such as ${example} (got ${show(name)})`;
  }
  return null;
}

/**
 * AD's complexity rule also refuses a password that contains the sAMAccountName (3+ characters)
 * or any 3+ character part of the displayName (split at , . - _ # space tab), ignoring case.
 * Random passwords hit this rarely (a short first name, about 1 in 2,000), so it is checked
 * before the password is sent: the caller can then ask for a fresh password instead of failing.
 * Returns what the password contains (never the password), or null.
 */
export function passwordMentionsAccount(password: string, samAccountName: string, displayName: string): string | null {
  const pw = password.toLowerCase();
  if (samAccountName.length >= 3 && pw.includes(samAccountName.toLowerCase())) return 'the account name';
  const token = displayName
    .split(/[,.\-_# \t]+/)
    .find((t) => t.length >= 3 && pw.includes(t.toLowerCase()));
  return token ? `"${token}" from the display name` : null;
}
