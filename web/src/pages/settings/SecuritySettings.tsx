/**
 * Settings → Security: the authenticator app (TOTP) as second factor. Enrolling shows the
 * otpauth URI and the secret once (for the app: paste the URI or type the secret), and finishes
 * with a code from the app; turning it off needs a current code too.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, messageOf, mfaOf } from '../../api';
import { FormError, TextField } from '../../components/Field';
import type { Me } from '../../types';

type Enrolment = { secret: string; otpauthUri: string };
const grouped = (secret: string) => secret.replace(/(.{4})/g, '$1 ').trim();

export function SecuritySettings() {
  const [enabled, setEnabled] = useState<boolean | null>(null);
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [codeError, setCodeError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => {
    api.get<Me>('/api/v1/me').then(
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
      setEnrolment(await api.post<Enrolment>('/api/v1/me/mfa/totp'));
      setCode('');
    });

  const codeProblem = () => (/^\d{6}$/.test(code.replace(/\s+/g, '')) ? null : 'Enter the 6-digit code your app shows now.');

  const confirm = (e: FormEvent) => {
    e.preventDefault();
    const p = codeProblem();
    if (p) return setCodeError(p);
    void run(async () => {
      await api.post('/api/v1/me/mfa/totp/confirm', { code: code.replace(/\s+/g, '') });
      setEnrolment(null);
      setCode('');
      setEnabled(true);
      setNotice('Your authenticator app is set up. Signing in asks for a code from now on.');
    });
  };

  const disable = (e: FormEvent) => {
    e.preventDefault();
    const p = codeProblem();
    if (p) return setCodeError(p);
    void run(async () => {
      await api.del('/api/v1/me/mfa/totp', { code: code.replace(/\s+/g, '') });
      setCode('');
      setEnabled(false);
      setNotice('The authenticator app is removed. Signing in needs only your password now.');
    });
  };

  const codeField = (
    <TextField
      id="mfa-code"
      label="Code from the app"
      inputMode="numeric"
      autoComplete="one-time-code"
      maxLength={8}
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
      {enabled === null ? (
        error ? null : <p className="loading">Loading…</p>
      ) : enabled ? (
        <form onSubmit={disable} noValidate>
          <p>
            <span className="badge badge-active">On</span> Signing in, and actions whose policy demands it, ask for a code from your app.
          </p>
          {codeField}
          <div className="form-actions">
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
