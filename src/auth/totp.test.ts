import { randomBytes } from 'node:crypto';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAuditLog } from '../audit/audit-log.js';
import { fakeClock } from '../core/clock.js';
import { createSecretBox } from '../secrets/envelope.js';
import { openStore, type Store } from '../store/db.js';
import { openTestStore } from '../../test/harness/pglite-template.js';
import { createTestDatabase } from '../../test/harness/pg-database.js';
import { createOperators } from './operators.js';
import { createTotp, requireFreshTotp, type Totp, type TotpDeps } from './totp.js';

// On a step boundary, so "now + 30 s" is exactly the next code.
const clock = fakeClock('2026-03-01T08:00:00.000Z');
const audit = createAuditLog({ clock });
const secrets = createSecretBox(randomBytes(32));
const system = { type: 'system' as const, id: null };
let store: Store;
let deps: TotpDeps;
let totp: Totp;
let n = 0;

beforeAll(async () => {
  store = await openTestStore();
  deps = { db: store.db, secrets, clock, audit };
  totp = createTotp(deps);
});
afterAll(async () => {
  await store?.close();
});

/** The code an authenticator app shows `offset` seconds from the (fake) now. */
const codeAt = (secret: string, offset = 0) => generate({ secret, epoch: Math.floor(clock.now().getTime() / 1000) + offset });
/** A code guaranteed not to be the current one. */
const wrong = (code: string) => `${(Number(code[0]) + 1) % 10}${code.slice(1)}`;

const required = expect.objectContaining({
  code: 'unauthorized',
  message: 'enter the 6-digit code from your authenticator app',
  details: { mfa: 'required' },
});
const invalid = expect.objectContaining({ code: 'unauthorized', message: 'that code is wrong or was already used', details: { mfa: 'invalid' } });

async function newOperator(): Promise<string> {
  const ops = createOperators({ db: store.db, audit, clock });
  return (await ops.create({ email: `op${++n}@example.com`, displayName: `Op ${n}` }, system)).id;
}

/** An operator with a confirmed app; its confirmation used up the current step. */
async function enrolled(t: Totp = totp): Promise<{ id: string; secret: string }> {
  const id = await newOperator();
  const { secret } = await t.startEnrolment(id);
  await t.confirmEnrolment(id, await codeAt(secret));
  return { id, secret };
}

const auditOf = (operatorId: string) =>
  store.db
    .selectFrom('audit_events')
    .select(['action', 'reason', 'before', 'after'])
    .where('subject_id', '=', operatorId)
    .where('action', 'like', 'mfa.%')
    .orderBy('seq')
    .execute();

describe('enrolment', () => {
  it('is confirmed with a code from the app; the secret is stored only encrypted', async () => {
    const id = await newOperator();
    const { secret, otpauthUri } = await totp.startEnrolment(id);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(otpauthUri).toBe(`otpauth://totp/Timebox:op${n}%40example.com?secret=${secret}&issuer=Timebox`);
    // Pending is not enrolled: sign-in ignores it.
    expect(await totp.isEnabled(id)).toBe(false);
    await expect(totp.verifyFresh(id, await codeAt(secret), 'login')).rejects.toEqual(expect.objectContaining({ code: 'forbidden' }));

    await totp.confirmEnrolment(id, await codeAt(secret));
    expect(await totp.isEnabled(id)).toBe(true);

    const row = await store.db.selectFrom('operators').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row.totp_secret_enc).toMatch(/^tb1\./);
    expect(row.totp_pending_secret_enc).toBeNull();
    expect(secrets.decrypt(row.totp_secret_enc!, `operator:${id}:totp`)).toBe(secret);
    // Bound to this operator: copied to another row it does not decrypt.
    expect(() => secrets.decrypt(row.totp_secret_enc!, `operator:${randomBytes(4).toString('hex')}:totp`)).toThrow(/cannot decrypt/);

    expect(await auditOf(id)).toEqual([{ action: 'mfa.enrolled', reason: null, before: null, after: { method: 'totp' } }]);
  });

  it('restarting replaces the pending secret; an enrolled app cannot be replaced without disabling it', async () => {
    const id = await newOperator();
    const first = await totp.startEnrolment(id);
    const second = await totp.startEnrolment(id);
    expect(second.secret).not.toBe(first.secret);
    await expect(totp.confirmEnrolment(id, await codeAt(first.secret))).rejects.toEqual(invalid);
    await totp.confirmEnrolment(id, await codeAt(second.secret));
    await expect(totp.startEnrolment(id)).rejects.toEqual(
      expect.objectContaining({ code: 'conflict', message: 'an authenticator app is already enrolled; disable it first (that needs a current code)' }),
    );
    await expect(totp.confirmEnrolment(id, '123456')).rejects.toEqual(expect.objectContaining({ code: 'conflict' }));
  });

  it('cannot be confirmed without starting one', async () => {
    const id = await newOperator();
    await expect(totp.confirmEnrolment(id, '123456')).rejects.toEqual(
      expect.objectContaining({ code: 'conflict', message: 'there is no enrolment to confirm; start one first' }),
    );
  });
});

describe('verifying a fresh code', () => {
  it('accepts the previous and the next step, refuses older, wrong and malformed codes, and audits no code', async () => {
    const { id, secret } = await enrolled();
    const tried: string[] = [];
    clock.advance(60_000);
    const previous = await codeAt(secret, -30);
    await totp.verifyFresh(id, previous, 'request');
    clock.advance(30_000);
    const next = await codeAt(secret, 30);
    await totp.verifyFresh(id, next, 'approve');
    // Far enough on that a code two steps old is still later than the last one used.
    clock.advance(150_000);
    const twoStepsOld = await codeAt(secret, -60);
    await expect(totp.verifyFresh(id, twoStepsOld, 'reveal')).rejects.toEqual(invalid);
    const current = await codeAt(secret);
    await expect(totp.verifyFresh(id, wrong(current), 'reveal')).rejects.toEqual(invalid);
    await expect(totp.verifyFresh(id, '12345', 'reveal')).rejects.toEqual(invalid);
    await expect(totp.verifyFresh(id, undefined, 'reveal')).rejects.toEqual(required);
    // Spaces as the app shows them are fine.
    await totp.verifyFresh(id, `${current.slice(0, 3)} ${current.slice(3)}`, 'reveal');
    tried.push(previous, next, twoStepsOld, current, wrong(current));

    const events = await auditOf(id);
    expect(events.filter((e) => e.action === 'mfa.verify_failed')).toEqual([
      { action: 'mfa.verify_failed', reason: 'wrong or already used code', before: null, after: { purpose: 'reveal' } },
      { action: 'mfa.verify_failed', reason: 'wrong or already used code', before: null, after: { purpose: 'reveal' } },
      { action: 'mfa.verify_failed', reason: 'not a 6-digit code', before: null, after: { purpose: 'reveal' } },
    ]);
    const stored = JSON.stringify(await store.db.selectFrom('audit_events').selectAll().execute());
    for (const code of tried) expect(stored).not.toContain(`"${code}"`);
    expect(stored).not.toContain(secret);
  });

  it('accepts a code once: the same code again is refused, and so is an unused code of an earlier step', async () => {
    const { id, secret } = await enrolled();
    clock.advance(30_000);
    const code = await codeAt(secret);
    await totp.verifyFresh(id, code, 'login');
    await expect(totp.verifyFresh(id, code, 'login')).rejects.toEqual(invalid);

    clock.advance(30_000);
    const earlier = await codeAt(secret);
    await totp.verifyFresh(id, await codeAt(secret, 30), 'approve');
    await expect(totp.verifyFresh(id, earlier, 'approve')).rejects.toEqual(invalid);
  });

  it('lets exactly one of several simultaneous uses of one code pass', async () => {
    const { id, secret } = await enrolled();
    clock.advance(30_000);
    const code = await codeAt(secret);
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => totp.verifyFresh(id, code, 'approve')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason)).toEqual(Array(4).fill(invalid));
  });

  it('refuses every code for a while after five wrong ones, even the right one', async () => {
    const { id, secret } = await enrolled();
    clock.advance(30_000);
    const code = await codeAt(secret);
    for (let i = 0; i < 5; i++) await expect(totp.verifyFresh(id, wrong(code), 'login')).rejects.toEqual(invalid);
    await expect(totp.verifyFresh(id, code, 'login')).rejects.toEqual(
      expect.objectContaining({ code: 'rate_limited', message: 'too many wrong codes; try again in 5 minutes' }),
    );
    clock.advance(5 * 60_000);
    await totp.verifyFresh(id, await codeAt(secret), 'login');
  });
});

describe('disabling', () => {
  it('needs a valid current code, and is audited', async () => {
    const { id, secret } = await enrolled();
    clock.advance(30_000);
    const code = await codeAt(secret);
    await expect(totp.disable(id, undefined)).rejects.toEqual(required);
    await expect(totp.disable(id, wrong(code))).rejects.toEqual(invalid);
    expect(await totp.isEnabled(id)).toBe(true);

    await totp.disable(id, code);
    expect(await totp.isEnabled(id)).toBe(false);
    const row = await store.db
      .selectFrom('operators')
      .select(['totp_secret_enc', 'totp_pending_secret_enc', 'totp_enabled_at', 'totp_last_step'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ totp_secret_enc: null, totp_pending_secret_enc: null, totp_enabled_at: null, totp_last_step: null });
    expect((await auditOf(id)).map((e) => e.action)).toEqual(['mfa.enrolled', 'mfa.verify_failed', 'mfa.disabled']);
    await expect(totp.disable(id, code)).rejects.toEqual(expect.objectContaining({ code: 'conflict', message: 'no authenticator app is enrolled' }));
  });
});

describe('recovery codes', () => {
  it('remove a lost app (once each); they are gone with it and are never accepted for a sensitive action', async () => {
    const id = await newOperator();
    const { secret } = await totp.startEnrolment(id);
    const codes = await totp.confirmEnrolment(id, await codeAt(secret));
    expect(codes).toHaveLength(10);
    // A policy's fresh-code demand wants the app itself, not a recovery code.
    await expect(requireFreshTotp(deps, id, codes[0], 'approve')).rejects.toEqual(invalid);
    const stored = await store.db.selectFrom('operator_recovery_codes').select('code_hash').where('operator_id', '=', id).execute();
    expect(stored).toHaveLength(10);
    expect(JSON.stringify(stored)).not.toContain(codes[0]!.replace(/-/g, ''));

    await totp.disable(id, codes[1]);
    expect(await totp.isEnabled(id)).toBe(false);
    expect(await store.db.selectFrom('operator_recovery_codes').select('code_hash').where('operator_id', '=', id).execute()).toEqual([]);
    expect((await auditOf(id)).map((e) => e.action)).toEqual(['mfa.enrolled', 'mfa.verify_failed', 'mfa.recovery_code_used', 'mfa.disabled']);
  });
});

describe('requireFreshTotp (called where a policy demands a fresh code)', () => {
  it('refuses an operator without an app: the policy demands MFA', async () => {
    const id = await newOperator();
    await expect(requireFreshTotp(deps, id, undefined, 'request')).rejects.toEqual(
      expect.objectContaining({
        code: 'forbidden',
        message: 'this policy requires multi-factor authentication; enrol an authenticator app first',
      }),
    );
  });

  it('asks an enrolled operator for a fresh code, accepted once', async () => {
    const { id, secret } = await enrolled();
    clock.advance(30_000);
    await expect(requireFreshTotp(deps, id, undefined, 'reveal')).rejects.toEqual(required);
    const code = await codeAt(secret);
    await expect(requireFreshTotp(deps, id, code, 'reveal')).resolves.toBeUndefined();
    await expect(requireFreshTotp(deps, id, code, 'reveal')).rejects.toEqual(invalid);
  });
});

describe('on PostgreSQL with two servers', () => {
  it('one code presented to both at once passes exactly once; wrong codes are counted across both', async () => {
    const database = await createTestDatabase(inject('pgAdminUrl'));
    const a = await openStore({ databaseUrl: database.url, poolSize: 3 });
    const b = await openStore({ databaseUrl: database.url, poolSize: 3 });
    try {
      const onA = createTotp({ db: a.db, secrets, clock, audit });
      const onB = createTotp({ db: b.db, secrets, clock, audit });
      const ops = createOperators({ db: a.db, audit, clock });
      const id = (await ops.create({ email: 'pg@example.com', displayName: 'Pg' }, system)).id;
      const { secret } = await onA.startEnrolment(id);
      await onA.confirmEnrolment(id, await codeAt(secret));
      clock.advance(30_000);
      const code = await codeAt(secret);
      const results = await Promise.allSettled([
        onA.verifyFresh(id, code, 'approve'),
        onB.verifyFresh(id, code, 'approve'),
        onA.verifyFresh(id, code, 'approve'),
        onB.verifyFresh(id, code, 'approve'),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);

      // Wrong codes count across servers: five in all, spread over both, lock both.
      const other = (await ops.create({ email: 'pg2@example.com', displayName: 'Pg 2' }, system)).id;
      const second = (await onA.startEnrolment(other)).secret;
      await onA.confirmEnrolment(other, await codeAt(second));
      clock.advance(30_000);
      const right = await codeAt(second);
      for (let i = 0; i < 5; i++) await expect((i % 2 ? onB : onA).verifyFresh(other, wrong(right), 'approve')).rejects.toEqual(invalid);
      for (const t of [onA, onB]) await expect(t.verifyFresh(other, right, 'approve')).rejects.toEqual(expect.objectContaining({ code: 'rate_limited' }));
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });
});
