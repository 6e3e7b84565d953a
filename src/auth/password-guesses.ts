/**
 * Failed password checks, counted per account and per address in the shared `rate_limits` table
 * (every process sees the same counts). The per-minute limit on sign-in is per address and
 * account together, so it does not stop many addresses guessing one account, nor one address
 * trying many accounts; these do:
 * - an account with ACCOUNT.max failures in its window is refused from everywhere until the
 *   window ends (its owner too: that is the price of stopping a distributed guess; SSO and a
 *   reset link still work);
 * - an address with ADDRESS.max failures is refused for every account. High enough for an office
 *   behind one address; behind a reverse proxy, TIMEBOX_TRUST_PROXY must be set, or every
 *   sign-in comes from the proxy's address and shares its budget.
 * The current-password check of a password change counts against the same account budget, so a
 * stolen session cannot be used to guess the password either.
 */
import type { Kysely } from 'kysely';
import { AppError } from '../core/errors.js';
import type { Database } from '../store/schema.js';
import { countInWindow, countSoFar } from '../store/window-counter.js';

export const ACCOUNT_FAILURES = { max: 20, windowMs: 15 * 60_000 } as const;
export const ADDRESS_FAILURES = { max: 300, windowMs: 15 * 60_000 } as const;

const accountKey = (email: string) => `password-failures:account:${email}`;
const addressKey = (ip: string) => `password-failures:address:${ip}`;

/** Who is checking: the account's (normalised) email, and the caller's address when known. */
export interface GuessSource {
  email: string;
  ip?: string | undefined;
}

const minutes = (until: Date, now: number) => `${Math.max(1, Math.ceil((until.getTime() - now) / 60_000))} minute(s)`;

export function createPasswordGuesses(db: Kysely<Database>, now: () => number = Date.now) {
  /** A 429 when the account or the address has used up its failures; null otherwise. */
  async function refusal(s: GuessSource): Promise<AppError | null> {
    const t = now();
    const account = await countSoFar(db, accountKey(s.email), new Date(t));
    if (account.count >= ACCOUNT_FAILURES.max && account.resetAt) {
      return new AppError('rate_limited', `too many failed password attempts for this account; try again in ${minutes(account.resetAt, t)}`);
    }
    if (s.ip) {
      const address = await countSoFar(db, addressKey(s.ip), new Date(t));
      if (address.count >= ADDRESS_FAILURES.max && address.resetAt) {
        return new AppError('rate_limited', `too many failed password attempts from this address; try again in ${minutes(address.resetAt, t)}`);
      }
    }
    return null;
  }

  /** Counts one failed check against the account and the address. */
  async function failed(s: GuessSource): Promise<void> {
    const at = new Date(now());
    await countInWindow(db, accountKey(s.email), ACCOUNT_FAILURES.windowMs, at);
    if (s.ip) await countInWindow(db, addressKey(s.ip), ADDRESS_FAILURES.windowMs, at);
  }

  return { refusal, failed };
}

export type PasswordGuesses = ReturnType<typeof createPasswordGuesses>;
