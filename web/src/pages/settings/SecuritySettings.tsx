/**
 * Settings → Security: the authenticator app (TOTP) as second factor. Enrolling shows the
 * otpauth URI and the secret once (for the app: paste the URI or type the secret), and finishes
 * with a code from the app, which answers ten recovery codes, shown once. Turning it off needs a
 * current code, or a recovery code when the app is lost; new recovery codes need a current code.
 */
import type { CallResult } from '../../../../src/api/types.js';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { call, messageOf, mfaOf } from '../../api';
import { FormError, TextField } from '../../components/Field';
import { SecretField } from '../../components/SecretField';

type Enrolment = CallResult<'startTotpEnrolment'>;
const grouped = (secret: string) => secret.replace(/(.{4})/g, '$1 ').trim();

export function SecuritySettings() {
  const [enabled, setEnabled] = useState<boolean | null>(null);
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [codeError, setCodeError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** Shown once, right after they are made. */
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);

  const load = useCallback(() => {
    call('me').then(
      (me) => setEnabled(!!me.operator.mfaEnabled),
      (err: unknown) => setError(messageOf(err)),
    );
  }, []);
  useEffect(load, [load]);

  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    setCodeError(null);
    try {
      await fn();
    } catch (err) {
      if (mfaOf(err) || /code/i.test(messageOf(err))) setCodeError(messageOf(err));
      else setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const start = () =>
    run(async () => {
      setNotice(null);
      setEnrolment(await call('startTotpEnrolment'));
      setCode('');
    });

  const typed = () => code.trim();
  const isAppCode = () => /^\d{6}$/.test(typed().replace(/\s+/g, ''));
  const isRecoveryCode = () => /^[a-z2-9]{4}[-\s]?[a-z2-9]{4}[-\s]?[a-z2-9]{4}$/i.test(typed());
  const codeProblem = () => (isAppCode() ? null : 'Enter the 6-digit code your app shows now.');
  const sent = () => (isAppCode() ? typed().replace(/\s+/g, '') : typed());

  const confirm = (e: FormEvent) => {
    e.preventDefault();
    const p = codeProblem();
    if (p) return setCodeError(p);
    void run(async () => {
      const r = await call('confirmTotp', { body: { code: sent() } });
      setEnrolment(null);
      setCode('');
      setEnabled(true);
      setRecoveryCodes(r.recoveryCodes);
      setNotice('Your authenticator app is set up. Signing in asks for a code from now on.');
    });
  };

  const disable = (e: FormEvent) => {
    e.preventDefault();
    if (!isAppCode() && !isRecoveryCode()) return setCodeError('Enter the 6-digit code your app shows now, or one of your recovery codes.');
    void run(async () => {
      await call('removeTotp', { body: { code: sent() } });
      setCode('');
      setEnabled(false);
      setRecoveryCodes(null);
      setNotice('The authenticator app is removed. Signing in needs only your password now.');
    });
  };

  const replaceCodes = () => {
    const p = codeProblem();
    if (p) return setCodeError(p);
    void run(async () => {
      const r = await call('newRecoveryCodes', { body: { code: sent() } });
      setCode('');
      setRecoveryCodes(r.recoveryCodes);
      setNotice('New recovery codes are made; the old ones no longer work.');
    });
  };

  const codeField = (
    <TextField
      id="mfa-code"
      label="Code from the app"
      hint={enabled ? 'Lost the app? To turn it off, enter one of your recovery codes instead.' : undefined}
      autoComplete="one-time-code"
      maxLength={16}
      value={code}
      error={codeError}
      onChange={(e) => {
        setCode(e.target.value);
        setCodeError(null);
      }}
    />
  );

  return (
    <section className="card narrow" aria-labelledby="mfa-title">
      <h2 id="mfa-title">Authenticator app</h2>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <FormError message={error} />
      {recoveryCodes ? (
        <div className="recovery-codes">
          <SecretField
            id="mfa-recovery-codes"
            label="Recovery codes"
            value={recoveryCodes.join('\n')}
            fileName="timebox-recovery-codes.txt"
            note="Each works once, to sign in or to turn off the app if you lose it. Keep them offline; they are not shown again."
          />
          <button type="button" onClick={() => setRecoveryCodes(null)}>
            I have saved them
          </button>
        </div>
      ) : null}
      {enabled === null ? (
        error ? null : <p className="loading">Loading…</p>
      ) : enabled ? (
        <form onSubmit={disable} noValidate>
          <p>
            <span className="badge badge-active">On</span> Signing in, and actions whose policy demands it, ask for a code from your app.
          </p>
          {codeField}
          <div className="form-actions">
            <button type="button" onClick={replaceCodes} disabled={busy}>
              New recovery codes
            </button>
            <button type="submit" className="danger" disabled={busy}>
              Turn off
            </button>
          </div>
        </form>
      ) : enrolment ? (
        <form onSubmit={confirm} noValidate>
          <ol className="steps">
            <li>
              Add an account in your authenticator app with this link (many apps accept it pasted), or by typing the secret.
              <div className="field">
                <label htmlFor="mfa-uri">otpauth link</label>
                <textarea id="mfa-uri" className="mono" readOnly rows={3} value={enrolment.otpauthUri} onFocus={(e) => e.currentTarget.select()} />
              </div>
              <p>
                Secret: <strong className="mono" data-testid="mfa-secret">{grouped(enrolment.secret)}</strong>
              </p>
            </li>
            <li>Enter the code the app shows to finish. The secret is not shown again.</li>
          </ol>
          {codeField}
          <div className="form-actions">
            <button type="button" onClick={() => setEnrolment(null)}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={busy}>
              Confirm
            </button>
          </div>
        </form>
      ) : (
        <div>
          <p>
            <span className="badge badge-disabled">Off</span> Add an authenticator app (such as any TOTP app) as a second factor for signing in.
            Some policies require it to request, approve or reveal passwords.
          </p>
          <button type="button" className="primary" onClick={start} disabled={busy}>
            Set up authenticator app
          </button>
        </div>
      )}
    </section>
  );
}
