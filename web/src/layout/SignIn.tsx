/** Email and password; the server sets the session and CSRF cookies, and this tab keeps a copy of the CSRF token. */
import { useEffect, useState, type FormEvent } from 'react';
import { call, ApiError, messageOf, session } from '../api';
import { FormError, TextField } from '../components/Field';
import { SsoSignIn } from './SsoSignIn';

export function SignIn(props: { message?: string; onSignedIn: () => Promise<void> }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  /** Shown once the server says this operator signs in with an authenticator code too. */
  const [totp, setTotp] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = 'Sign in · Timebox';
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!email.trim() || !password) {
      setError('Enter your email and password.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const res = await call('login', { body: { email: email.trim(), password, ...(totp ? { totp: totp.trim() } : {}) } });
      session.save(res.csrfToken, res.expiresAt);
      setPassword('');
      await props.onSignedIn();
    } catch (err) {
      const mfa = err instanceof ApiError ? (err.details as { mfa?: string } | undefined)?.mfa : undefined;
      if (mfa) {
        setTotp((t) => t ?? '');
        setError(messageOf(err));
      } else {
        setError(err instanceof ApiError && err.status === 401 ? 'The email or password is incorrect.' : messageOf(err));
      }
      setBusy(false);
    }
  };

  return (
    <main className="sign-in">
      <form className="card sign-in-card" onSubmit={submit} noValidate aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to Timebox</h1>
        {props.message && !error ? (
          <p className="notice" role="status">
            {props.message}
          </p>
        ) : null}
        <FormError message={error} />
        <TextField id="email" label="Email" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} autoFocus />
        <TextField
          id="password"
          label="Password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {totp !== null ? (
          <TextField
            id="totp"
            label="Authenticator code"
            hint="The 6-digit code your app shows now. Lost the app? A recovery code works here, once."
            autoComplete="one-time-code"
            value={totp}
            onChange={(e) => setTotp(e.target.value)}
            autoFocus
          />
        ) : null}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <SsoSignIn />
    </main>
  );
}
