/**
 * Recovery codes: what an operator who lost their authenticator app signs in with (and removes
 * the lost app with, to enrol a new one). Ten are made when an app is enrolled and shown once;
 * each works once. Only a SHA-256 of each code is stored, bound to its operator: a code carries
 * 60 random bits, so a plain hash is enough (nobody can run through 2^60 guesses, and sign-in is
 * rate-limited besides). A code is used by one conditional UPDATE, so it cannot pass twice even
 * from two servers at once.
 */
import { createHash, randomInt } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export const RECOVERY_CODE_COUNT = 10;
/** No 0/o, 1/l/i: codes are read from paper. */
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const GROUPS = 3;
const GROUP_LENGTH = 4;
/** What people may type: the groups, with or without dashes and spaces, any case. */
export const RECOVERY_CODE_RE = /^[a-z2-9]{4}[-\s]?[a-z2-9]{4}[-\s]?[a-z2-9]{4}$/i;

const normalise = (code: string) => code.replace(/[-\s]/g, '').toLowerCase();
const hashOf = (operatorId: string, code: string) => createHash('sha256').update(`${operatorId}:${normalise(code)}`).digest('hex');

function newCode(): string {
  const groups: string[] = [];
  for (let g = 0; g < GROUPS; g++) {
    let s = '';
    for (let i = 0; i < GROUP_LENGTH; i++) s += ALPHABET[randomInt(ALPHABET.length)];
    groups.push(s);
  }
  return groups.join('-');
}

export const isRecoveryCodeShape = (code: string | undefined): code is string => !!code && RECOVERY_CODE_RE.test(code.trim());

/** A fresh set replacing any earlier one (used ones included); returns the codes, to be shown once. */
export async function replaceRecoveryCodes(tx: Db, operatorId: string, now: Date): Promise<string[]> {
  const codes = new Set<string>();
  while (codes.size < RECOVERY_CODE_COUNT) codes.add(newCode());
  await tx.deleteFrom('operator_recovery_codes').where('operator_id', '=', operatorId).execute();
  await tx
    .insertInto('operator_recovery_codes')
    .values([...codes].map((c) => ({ operator_id: operatorId, code_hash: hashOf(operatorId, c), created_at: now })))
    .execute();
  return [...codes];
}

/** Uses up `code` if it is one of the operator's unused codes; returns how many are left, or null. */
export async function useRecoveryCode(db: Db, operatorId: string, code: string, now: Date): Promise<number | null> {
  const used = await db
    .updateTable('operator_recovery_codes')
    .set({ used_at: now })
    .where('operator_id', '=', operatorId)
    .where('code_hash', '=', hashOf(operatorId, code))
    .where('used_at', 'is', null)
    .executeTakeFirst();
  if (used.numUpdatedRows !== 1n) return null;
  return remainingRecoveryCodes(db, operatorId);
}

export async function remainingRecoveryCodes(db: Db, operatorId: string): Promise<number> {
  const row = await db
    .selectFrom('operator_recovery_codes')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('operator_id', '=', operatorId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function dropRecoveryCodes(tx: Db, operatorId: string): Promise<void> {
  await tx.deleteFrom('operator_recovery_codes').where('operator_id', '=', operatorId).execute();
}
