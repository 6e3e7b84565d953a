/**
 * Questions and changes shared by both AD kinds: find an account, check groups, add and remove
 * group members. Every value placed in a filter is escaped; every DN is parsed first.
 */
import { invalid, permanent, refused } from '../../core/errors.js';
import { isWithin, normalizeDn } from './dn.js';
import { escapeFilterValue } from './escape.js';
import { type Session, text, texts, valueChange } from './session.js';

/**
 * How Timebox recognises its own accounts: the description starts with this marker (and, for
 * changes at grant time, the account sits directly in the JIT OU). Anything else is left alone.
 */
export const JIT_MARKER = 'Timebox JIT account';

export const UAC_ACCOUNTDISABLE = 0x2;
export const UAC_ENABLED = 512; // NORMAL_ACCOUNT
export const UAC_DISABLED = 514; // NORMAL_ACCOUNT | ACCOUNTDISABLE

/** FILETIME: 100 ns intervals since 1601-01-01 UTC, as a decimal string. */
const EPOCH_1601_MS = 11_644_473_600_000n;
export const toFileTime = (d: Date) => ((BigInt(d.getTime()) + EPOCH_1601_MS) * 10_000n).toString();
/** null for "never expires" (0 or the largest 64-bit value). */
export function fromFileTime(value: string): Date | null {
  if (!/^\d+$/.test(value)) return null;
  const ft = BigInt(value);
  if (ft === 0n || ft >= 0x7fff_ffff_ffff_ffffn) return null;
  return new Date(Number(ft / 10_000n - EPOCH_1601_MS));
}

/** unicodePwd: the password in double quotes, UTF-16LE. */
export const unicodePwd = (password: string) => Buffer.from(`"${password}"`, 'utf16le');

export interface Account {
  dn: string;
  samAccountName: string;
  description: string;
  displayName: string;
  userAccountControl: number;
  /** null: never expires. */
  accountExpires: Date | null;
  memberOf: string[];
  isUser: boolean;
  /** Its userPrincipalName, lower case ('' when none): the sign-in name that says whose user it is. */
  upn: string;
  /** Its objectGUID in hex ('' when the directory gave none): the object, whatever its names. */
  objectGuid: string;
}

export const isTimeboxAccount = (a: Account) => a.description.startsWith(JIT_MARKER);
export const isEnabled = (a: Account) => (a.userAccountControl & UAC_ACCOUNTDISABLE) === 0;

const ACCOUNT_ATTRS = ['sAMAccountName', 'description', 'displayName', 'userAccountControl', 'accountExpires', 'memberOf', 'objectClass', 'userPrincipalName', 'objectGUID'];

/** The domain's root DN: sAMAccountNames are unique in the whole domain, not only below baseDn. */
export async function domainRoot(s: Session): Promise<string> {
  const root = await s.read('reading the rootDSE', '', ['defaultNamingContext']);
  const dn = root ? text(root, 'defaultNamingContext') : '';
  if (!dn) throw invalid('the server did not report a defaultNamingContext: is it an Active Directory domain controller?');
  return dn;
}

/** The object with this sAMAccountName anywhere under `base`, or null. */
export async function findAccount(s: Session, base: string, samAccountName: string): Promise<Account | null> {
  const entries = await s.search(`looking up sAMAccountName ${samAccountName}`, base, {
    filter: `(sAMAccountName=${escapeFilterValue(samAccountName)})`,
    attributes: ACCOUNT_ATTRS,
  });
  const e = entries[0];
  if (!e) return null;
  const classes = texts(e, 'objectClass').map((c) => c.toLowerCase());
  return {
    dn: e.dn,
    samAccountName: text(e, 'sAMAccountName'),
    description: text(e, 'description'),
    displayName: text(e, 'displayName'),
    userAccountControl: Number(text(e, 'userAccountControl') || '0'),
    accountExpires: fromFileTime(text(e, 'accountExpires') || '0'),
    memberOf: texts(e, 'memberOf'),
    isUser: classes.includes('user') && !classes.includes('computer'),
    upn: text(e, 'userPrincipalName').toLowerCase(),
    objectGuid: Buffer.isBuffer(e.objectGUID) ? e.objectGUID.toString('hex') : '',
  };
}

/**
 * Another object that signs in as one of `upns` (its userPrincipalName), not the account named
 * `samAccountName` itself; null when none. The DC refuses a new account whose sign-in name is
 * taken, so asking first turns a failed activation into a refusal before anything is written.
 */
export async function signInNameHolder(s: Session, base: string, upns: string[], samAccountName: string): Promise<string | null> {
  const filter = `(|${upns.map((u) => `(userPrincipalName=${escapeFilterValue(u)})`).join('')})`;
  const entries = await s.search(`looking up userPrincipalName ${upns.join(', ')}`, base, { filter, attributes: ['sAMAccountName'] });
  const other = entries.find((e) => text(e, 'sAMAccountName').toLowerCase() !== samAccountName.toLowerCase());
  return other?.dn ?? null;
}

/** Which of `groups` the account is a direct member of (memberOf is AD's own back-link). */
export function heldGroups(account: Account, groups: string[]): string[] {
  const held = new Set(account.memberOf.map(normalizeDn));
  return groups.filter((g) => held.has(normalizeDn(g)));
}

/** Entitlements minus the retained ones, compared as DNs (case and escaping do not matter). */
export function withoutRetained(groups: string[], retain: string[]): string[] {
  const kept = new Set(retain.flatMap((r) => { try { return [normalizeDn(r)]; } catch { return []; } }));
  return groups.filter((g) => !kept.has(normalizeDn(g)));
}

/**
 * Every group must exist, be a group, lie under baseDn and have `member` writable by the service
 * account (AD's allowedAttributesEffective): refused as a whole, naming each group, before
 * anything is created.
 */
export async function checkGroups(s: Session, baseDn: string, groups: string[]): Promise<void> {
  const outside = groups.filter((g) => !isWithin(g, baseDn));
  if (outside.length > 0) {
    throw refused('entitlement_missing', `group(s) ${outside.join('; ')} are outside baseDn ${baseDn}; Timebox only grants groups under it`);
  }
  const missing: string[] = [];
  const readOnly: string[] = [];
  for (const g of groups) {
    const entry = await s.read(`looking up group ${g}`, g, ['allowedAttributesEffective'], '(objectClass=group)');
    if (!entry) missing.push(g);
    else if (!texts(entry, 'allowedAttributesEffective').some((a) => a.toLowerCase() === 'member')) readOnly.push(g);
  }
  if (missing.length > 0) throw refused('entitlement_missing', `group(s) ${missing.join('; ')} do not exist (or are not groups) in the directory`);
  if (readOnly.length > 0) {
    throw permanent(
      `the service account may not change the members of ${readOnly.join('; ')}: delegate "Write Members" on each group Timebox grants (for protected groups such as Domain Admins, on AdminSDHolder)`,
    );
  }
}

const codeOf = (err: unknown) => (err as { cause?: { code?: unknown } })?.cause?.code;

/** Adds the account to the group; already a member is fine. */
export async function addMember(s: Session, group: string, userDn: string): Promise<void> {
  try {
    await s.step(`adding ${userDn} to group ${group}`, (c) => c.modify(group, [valueChange('add', 'member', userDn)]));
  } catch (err) {
    // 68 (Samba, AD) or 20 (attributeOrValueExists): the value is already there.
    if (codeOf(err) === 68 || codeOf(err) === 20) return;
    if (codeOf(err) === 32) throw invalid(`group ${group} no longer exists in the directory`, err);
    throw err;
  }
}

/** Removes the account from the group; not a member (or no such group) is fine. */
export async function removeMember(s: Session, group: string, userDn: string): Promise<void> {
  try {
    await s.step(`removing ${userDn} from group ${group}`, (c) => c.modify(group, [valueChange('delete', 'member', userDn)]));
  } catch (err) {
    const code = codeOf(err);
    if (code === 16 || code === 32) return; // no such value / no such group: nothing to remove
    if (code === 53) {
      // Samba and AD say "unwilling to perform" for a value that is already gone; check it is.
      const still = await s.read(`checking membership in ${group}`, group, ['cn'], `(member=${escapeFilterValue(userDn)})`);
      if (!still) return;
    }
    throw err;
  }
}

/** Exact: is `dn` a security group under baseDn (what the entitlement list offers)? */
export async function securityGroupExists(s: Session, baseDn: string, dn: string): Promise<boolean> {
  if (!isWithin(dn, baseDn)) return false;
  const entry = await s.read(`looking up group ${dn}`, dn, ['cn'], `(&(objectClass=group)(groupType:1.2.840.113556.1.4.803:=2147483648))`);
  return entry !== null;
}
