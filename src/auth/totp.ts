/**
 * TOTP (RFC 6238: 6 digits, 30-second steps, SHA-1, what every authenticator app speaks) as the
 * operators' second factor: enrolment, sign-in, and fresh codes for sensitive actions.
 *
 * Secrets are stored SecretBox-encrypted (context `operator:<id>:totp`). The time step of every
 * accepted code is recorded and only later steps are accepted afterwards, so a code works once
 * even when it is seen by someone else (shoulder, proxy log, a second tab). The step is claimed
 * by a conditional UPDATE, so two simultaneous uses of one code cannot both pass, on any number
 * of servers.
 *
 * Codes and secrets never reach the audit log, errors or logs. Recovery codes (recovery-codes.ts)
 * stand in for a code at sign-in and for removing a lost app; nowhere else.
 */
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import { AppError, conflict, notFound } from '../core/errors.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import { countInWindow, countSoFar, resetCount } from '../store/window-counter.js';
import { inTransaction } from './operators.js';
import { dropRecoveryCodes, isRecoveryCodeShape, replaceRecoveryCodes, useRecoveryCode } from './recovery-codes.js';

/** Loaded with the first code or enrolment: a server start needs none. */
const otplib = () => import('otplib');

type Db = Kysely<Database>;

/** What a code is being checked for; recorded with failed attempts. */
export type MfaPurpose = 'login' | 'enrol' | 'disable' | 'request' | 'approve' | 'reveal' | 'recovery-codes';

export interface TotpDeps {
  db: Db;
  secrets: SecretBox;
  clock: Clock;
  audit: AuditLog;
  /** Shown above the account in authenticator apps. */
  issuer?: string;
}

export interface TotpEnrolment {
  /** Base32, for typing into an app by hand. */
  secret: string;
  /** `otpauth://totp/...`, for a QR code. */
  otpauthUri: string;
}

const PERIOD_SECONDS = 30;
const CODE = /^\d{6}$/;
/**
 * Wrong codes per operator before further attempts are refused for a while. Sign-in has its own
 * rate limit, but request/approve/reveal do not: without this, 10^6 codes could be tried at
 * request speed. Counted in the database (window-counter.ts), so several servers allow five in all.
 */
const MAX_FAILURES = 5;
const FAILURE_WINDOW_MS = 5 * 60_000;
const failureKey = (operatorId: string) => `mfa-failures:${operatorId}`;

export const mfaRequired = () =>
  new AppError('unauthorized', 'enter the 6-digit code from your authenticator app', { mfa: 'required' });
export const mfaInvalid = () => new AppError('unauthorized', 'that code is wrong or was already used', { mfa: 'invalid' });
export const mfaNotEnrolled = () =>
  new AppError('forbidden', 'this policy requires multi-factor authentication; enrol an authenticator app first');

const contextOf = (operatorId: string) => `operator:${operatorId}:totp`;

export function createTotp(deps: TotpDeps) {
  const { db, secrets, clock, audit } = deps;
  const issuer = deps.issuer ?? 'Timebox';

  async function load(operatorId: string) {
    const row = await db
      .selectFrom('operators')
      .select(['email', 'totp_secret_enc', 'totp_pending_secret_enc', 'totp_enabled_at', 'totp_last_step'])
      .where('id', '=', operatorId)
      .executeTakeFirst();
    if (!row) throw notFound('operator');
    return row;
  }

  async function refuseWhileLocked(operatorId: string): Promise<void> {
    const now = clock.now();
    const { count, resetAt } = await countSoFar(db, failureKey(operatorId), now);
    if (count >= MAX_FAILURES && resetAt) {
      const minutes = Math.ceil((resetAt.getTime() - now.getTime()) / 60_000);
      throw new AppError('rate_limited', `too many wrong codes; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`);
    }
  }

  /** Counts and audits a refused code, then refuses it. */
  async function fail(operatorId: string, purpose: MfaPurpose, reason: string): Promise<never> {
    await countInWindow(db, failureKey(operatorId), FAILURE_WINDOW_MS, clock.now());
    await audit.append(db, {
      tenantId: null,
      actor: { type: 'operator', id: operatorId },
      action: 'mfa.verify_failed',
      subject: { type: 'operator', id: operatorId },
      reason,
      after: { purpose },
    });
    throw mfaInvalid();
  }

  /**
   * The time step a code belongs to (current one ±1, for clock drift and typing time), if it is
   * later than `lastStep`; otherwise the attempt is counted, audited and refused.
   */
  async function matchStep(
    operatorId: string,
    secretEnc: string,
    lastStep: string | null,
    code: string | undefined,
    purpose: MfaPurpose,
  ): Promise<number> {
    // Apps show "123 456"; people type what they see.
    const token = (code ?? '').replace(/\s+/g, '');
    if (token === '') throw mfaRequired();
    await refuseWhileLocked(operatorId);
    if (!CODE.test(token)) return fail(operatorId, purpose, 'not a 6-digit code');
    const { verify } = await otplib();
    const result = await verify({
      secret: secrets.decrypt(secretEnc, contextOf(operatorId)),
      token,
      epoch: Math.floor(clock.now().getTime() / 1000),
      epochTolerance: PERIOD_SECONDS,
      ...(lastStep !== null ? { afterTimeStep: Number(lastStep) } : {}),
    });
    // `timeStep` is in every valid TOTP result; the check narrows otplib's TOTP|HOTP union.
    if (!result.valid || !('timeStep' in result)) return fail(operatorId, purpose, 'wrong or already used code');
    await resetCount(db, failureKey(operatorId));
    return result.timeStep;
  }

  /** A new secret, pending until confirmed with a code; replaces any earlier pending one. */
  async function startEnrolment(operatorId: string): Promise<TotpEnrolment> {
    const row = await load(operatorId);
    // Re-enrolling over a working factor would let a stolen session swap it for the thief's own.
    const enrolled = () => conflict('an authenticator app is already enrolled; disable it first (that needs a current code)');
    if (row.totp_enabled_at) throw enrolled();
    const { generateSecret, generateURI } = await otplib();
    const secret = generateSecret();
    const res = await db
      .updateTable('operators')
      .set({ totp_pending_secret_enc: secrets.encrypt(secret, contextOf(operatorId)) })
      .where('id', '=', operatorId)
      .where('totp_enabled_at', 'is', null)
      .executeTakeFirst();
    if (res.numUpdatedRows === 0n) throw enrolled();
    return { secret, otpauthUri: generateURI({ issuer, label: row.email, secret }) };
  }

  /** Proves the app holds the pending secret; from now on sign-in asks for a code. Returns the recovery codes, to show once. */
  async function confirmEnrolment(operatorId: string, code: string | undefined): Promise<string[]> {
    const row = await load(operatorId);
    if (row.totp_enabled_at) throw conflict('an authenticator app is already enrolled');
    const pending = row.totp_pending_secret_enc;
    if (!pending) throw conflict('there is no enrolment to confirm; start one first');
    const step = await matchStep(operatorId, pending, null, code, 'enrol');
    return inTransaction(db, async (tx) => {
      // Only the very secret the code was checked against: a restart in between wins.
      const res = await tx
        .updateTable('operators')
        .set({ totp_secret_enc: pending, totp_pending_secret_enc: null, totp_enabled_at: clock.now(), totp_last_step: step })
        .where('id', '=', operatorId)
        .where('totp_enabled_at', 'is', null)
        .where('totp_pending_secret_enc', '=', pending)
        .executeTakeFirst();
      if (res.numUpdatedRows === 0n) throw conflict('the enrolment was restarted or confirmed meanwhile; start again');
      await audit.append(tx, {
        tenantId: null,
        actor: { type: 'operator', id: operatorId },
        action: 'mfa.enrolled',
        subject: { type: 'operator', id: operatorId },
        after: { method: 'totp' },
      });
      return replaceRecoveryCodes(tx, operatorId, clock.now());
    });
  }

  /** Uses up a recovery code (sign-in, removing a lost app); a wrong one counts like a wrong code. */
  async function spendRecoveryCode(operatorId: string, code: string, purpose: MfaPurpose, db2: Db = db): Promise<void> {
    await refuseWhileLocked(operatorId);
    const left = await useRecoveryCode(db2, operatorId, code, clock.now());
    if (left === null) return fail(operatorId, purpose, 'wrong or already used recovery code');
    await resetCount(db, failureKey(operatorId));
    await audit.append(db2, {
      tenantId: null,
      actor: { type: 'operator', id: operatorId },
      action: 'mfa.recovery_code_used',
      subject: { type: 'operator', id: operatorId },
      after: { purpose, remaining: left },
    });
  }

  /** A new set of recovery codes (the old ones stop working), for a current code from the app. */
  async function replaceCodes(operatorId: string, code: string | undefined): Promise<string[]> {
    // Said as removing the app says it: verifyFresh would speak of a policy that asks for a code.
    if (!(await load(operatorId)).totp_enabled_at) throw conflict('no authenticator app is enrolled; recovery codes come with one');
    await verifyFresh(operatorId, code, 'recovery-codes');
    return inTransaction(db, async (tx) => {
      const codes = await replaceRecoveryCodes(tx, operatorId, clock.now());
      await audit.append(tx, {
        tenantId: null,
        actor: { type: 'operator', id: operatorId },
        action: 'mfa.recovery_codes_replaced',
        subject: { type: 'operator', id: operatorId },
      });
      return codes;
    });
  }

  /** Claims the code's step; false when someone else claimed it (or a later one) first. */
  async function claimStep(operatorId: string, secretEnc: string, step: number, db2: Db = db): Promise<boolean> {
    const res = await db2
      .updateTable('operators')
      .set({ totp_last_step: step })
      .where('id', '=', operatorId)
      .where('totp_secret_enc', '=', secretEnc)
      .where('totp_enabled_at', 'is not', null)
      .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', String(step))]))
      .executeTakeFirst();
    return res.numUpdatedRows === 1n;
  }

  /** Removes the factor; needs a current code, so a stolen session alone cannot. */
  async function disable(operatorId: string, code: string | undefined): Promise<void> {
    const row = await load(operatorId);
    const secretEnc = row.totp_secret_enc;
    if (!row.totp_enabled_at || !secretEnc) throw conflict('no authenticator app is enrolled');
    // A lost app is removed with a recovery code instead.
    const recovery = isRecoveryCodeShape(code);
    if (recovery) await spendRecoveryCode(operatorId, code, 'disable');
    const step = recovery ? null : await matchStep(operatorId, secretEnc, row.totp_last_step, code, 'disable');
    const done = await inTransaction(db, async (tx) => {
      if (step !== null && !(await claimStep(operatorId, secretEnc, step, tx))) return false;
      await tx
        .updateTable('operators')
        .set({ totp_secret_enc: null, totp_pending_secret_enc: null, totp_enabled_at: null, totp_last_step: null })
        .where('id', '=', operatorId)
        .execute();
      await dropRecoveryCodes(tx, operatorId);
      await audit.append(tx, {
        tenantId: null,
        actor: { type: 'operator', id: operatorId },
        action: 'mfa.disabled',
        subject: { type: 'operator', id: operatorId },
        before: { method: 'totp' },
      });
      return true;
    });
    if (!done) await fail(operatorId, 'disable', 'code already used');
  }

  /**
   * A platform administrator removes the app (and recovery codes) of someone who lost both, after
   * checking who they are out of band; the reason goes into the audit log.
   */
  async function reset(operatorId: string, by: { operatorId: string }, reason: string): Promise<void> {
    const row = await load(operatorId);
    if (!row.totp_enabled_at && !row.totp_pending_secret_enc) throw conflict('this operator has no authenticator app');
    await inTransaction(db, async (tx) => {
      await tx
        .updateTable('operators')
        .set({ totp_secret_enc: null, totp_pending_secret_enc: null, totp_enabled_at: null, totp_last_step: null })
        .where('id', '=', operatorId)
        .execute();
      await dropRecoveryCodes(tx, operatorId);
      await resetCount(tx, failureKey(operatorId));
      await audit.append(tx, {
        tenantId: null,
        actor: { type: 'operator', id: by.operatorId },
        action: 'mfa.reset',
        subject: { type: 'operator', id: operatorId },
        reason,
        before: { method: 'totp' },
      });
    });
  }

  async function isEnabled(operatorId: string): Promise<boolean> {
    const row = await db.selectFrom('operators').select(['totp_enabled_at', 'totp_secret_enc']).where('id', '=', operatorId).executeTakeFirst();
    return Boolean(row?.totp_enabled_at && row.totp_secret_enc);
  }

  /**
   * Accepts a current code exactly once. Call it outside any transaction: the consumed step and
   * the audit event of a refusal must be committed whatever the caller does next.
   */
  async function verifyFresh(operatorId: string, code: string | undefined, purpose: MfaPurpose): Promise<void> {
    const row = await load(operatorId);
    const secretEnc = row.totp_secret_enc;
    if (!row.totp_enabled_at || !secretEnc) throw mfaNotEnrolled();
    // Sign-in only: a recovery code gets a person in, not past a policy's fresh-code demand.
    if (purpose === 'login' && isRecoveryCodeShape(code)) return spendRecoveryCode(operatorId, code, purpose);
    const step = await matchStep(operatorId, secretEnc, row.totp_last_step, code, purpose);
    if (!(await claimStep(operatorId, secretEnc, step))) await fail(operatorId, purpose, 'code already used');
  }

  return { startEnrolment, confirmEnrolment, disable, isEnabled, verifyFresh, replaceCodes, reset };
}

export type Totp = ReturnType<typeof createTotp>;

/**
 * The check before a sensitive action whose policy demands a fresh code (`mfa.request`,
 * `mfa.approve`, `mfa.reveal`): the operator must have enrolled an app and give a current code,
 * used once. Where the policy does not demand one, nothing is asked: the policy is the one place
 * a tenant decides on step-up, and asking only those who enrolled would make enrolling a burden
 * (sign-in already asks every enrolled operator for a code). Call outside any transaction (see
 * verifyFresh).
 */
export async function requireFreshTotp(
  deps: TotpDeps,
  operatorId: string,
  code: string | undefined,
  purpose: 'request' | 'approve' | 'reveal',
): Promise<void> {
  const totp = createTotp(deps);
  if (!(await totp.isEnabled(operatorId))) throw mfaNotEnrolled();
  await totp.verifyFresh(operatorId, code, purpose);
}

/**
 * For a server built without the master key (some tests): enrolling fails, and so does signing
 * in as an operator who has enrolled; the second factor is never skipped.
 */
export const noSecretBox: SecretBox = {
  encrypt() {
    throw new Error('multi-factor authentication is not available: this server has no master key');
  },
  decrypt() {
    throw new Error('multi-factor authentication is not available: this server has no master key');
  },
};
