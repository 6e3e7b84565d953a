/**
 * Who owns an account on a target. Timebox writes a marker on every account it creates (a
 * PostgreSQL role comment, an AD description) that names the owning JIT account and this Timebox
 * installation. Two targets that reach the same cluster or domain see each other's accounts, so
 * "carries a Timebox marker" is not enough: only the marker naming this very JIT account of this
 * very installation makes an account ours to change. Pure: no I/O.
 */

/** The JIT account (in Timebox's store) an account on the target must belong to. */
export interface AccountOwner {
  /** jit_accounts.id */
  accountId: string;
  /** Identifies this Timebox installation (the settings table keeps it). */
  installationId: string;
  /**
   * Accounts created before markers named their owner carry the bare marker. This JIT account
   * may claim such a one only when Timebox's store says it was enabled before and no older JIT
   * account reaching the same cluster or domain has the name (the core decides, not the target).
   */
  claimLegacy?: boolean;
}

/** Why an existing account is not ours. Codes, for layers that decide on them (never the words). */
export type ForeignReason =
  /** No Timebox marker: a role, user or group someone else made. */
  | 'not_timebox'
  /** A Timebox marker naming another JIT account (another person, another target). */
  | 'other_account'
  /** A Timebox marker of another Timebox installation. */
  | 'other_installation'
  /** A marker without owner, which this JIT account may not claim. */
  | 'unclaimed_legacy'
  /** Not a user account at all (a group, a computer...), or not where Timebox keeps its accounts. */
  | 'not_an_account'
  /** The name is free, but another account already signs in with it (a directory's userPrincipalName). */
  | 'sign_in_name_taken';

export type AccountStatus = { status: 'free' } | { status: 'owned' } | { status: 'foreign'; reason: ForeignReason };

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/**
 * The start of every marker: `<prefix> <installation>/<account> of …`. The prefix stays what it
 * always was ("Timebox JIT account"), so accounts created by older versions are still recognised
 * as Timebox's (and only claimable as described above).
 */
export function ownerTag(prefix: string, owner: Pick<AccountOwner, 'accountId' | 'installationId'>): string {
  return `${prefix} ${owner.installationId}/${owner.accountId}`;
}

export type MarkerOwner = { kind: 'none' } | { kind: 'legacy' } | { kind: 'owner'; installationId: string; accountId: string };

/** What a marker text says about its owner. */
export function readMarker(prefix: string, text: string | null | undefined): MarkerOwner {
  if (!text || !text.startsWith(prefix)) return { kind: 'none' };
  const m = new RegExp(`^ (${UUID})/(${UUID})(?: |$)`).exec(text.slice(prefix.length));
  if (!m) return { kind: 'legacy' };
  return { kind: 'owner', installationId: m[1]!, accountId: m[2]! };
}

/** The status of an existing account carrying `text` as its marker, for `owner`. */
export function ownershipOf(prefix: string, text: string | null | undefined, owner: AccountOwner): AccountStatus {
  const found = readMarker(prefix, text);
  switch (found.kind) {
    case 'none':
      return { status: 'foreign', reason: 'not_timebox' };
    case 'legacy':
      return owner.claimLegacy ? { status: 'owned' } : { status: 'foreign', reason: 'unclaimed_legacy' };
    case 'owner':
      if (found.installationId !== owner.installationId) return { status: 'foreign', reason: 'other_installation' };
      if (found.accountId !== owner.accountId) return { status: 'foreign', reason: 'other_account' };
      return { status: 'owned' };
  }
}

/** Words for a person, from the code. */
export function describeForeign(reason: ForeignReason): string {
  switch (reason) {
    case 'not_timebox':
      return 'it exists there and is not a Timebox JIT account';
    case 'other_account':
      return 'it is the Timebox JIT account of another person or target';
    case 'other_installation':
      return 'it is a JIT account of another Timebox installation';
    case 'unclaimed_legacy':
      return 'it is a Timebox JIT account whose owner this JIT account cannot prove';
    case 'not_an_account':
      return 'it exists there and is not a user account Timebox manages';
    case 'sign_in_name_taken':
      return 'another account there already signs in with it as its user principal name';
  }
}
