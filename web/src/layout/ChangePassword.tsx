/**
 * Change one's own password: current, new, new again. Used on its own page when the password was
 * set by someone else (the first owner's printed one) and nothing else is allowed until then, and
 * in Settings → Security. The server checks the rules and says why a password is refused.
 */
import { useState, type FormEvent } from 'react';
import { call, messageOf } from '../api';
import { FormError, TextField } from '../components/Field';

export const PASSWORD_RULES = 'At least 12 characters, not your email, and hard to guess: a few unrelated words or a password manager’s suggestion.';

export function ChangePasswordForm(props: { onChanged: (otherSessionsEnded: number) => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!current || !next) return setError('Enter your current password and a new one.');
    if (next !== again) return setError('The two new passwords differ.');
    setBusy(true);
    setError(null);
    try {
      const r = await call('changePassword', { body: { currentPassword: current, newPassword: next } });
      setCurrent('');
      setNext('');
      setAgain('');
      props.onChanged(r.otherSessionsEnded);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} noValidate aria-label="Change password">
      <FormError message={error} />
      <TextField id="current-password" label="Current password" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />
      <TextField id="new-password" label="New password" type="password" autoComplete="new-password" hint={PASSWORD_RULES} value={next} onChange={(e) => setNext(e.target.value)} />
      <TextField id="new-password-again" label="New password again" type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} />
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Changing…' : 'Change password'}
      </button>
    </form>
  );
}

/** The page shown instead of everything else while the password must be changed. */
export function MustChangePassword(props: { email: string; onChanged: () => void; onSignOut: () => void }) {
  return (
    <main className="sign-in">
      <div className="card sign-in-card">
        <h1>Choose your own password</h1>
        <p className="notice" role="status">
          You signed in as {props.email} with a password someone else set or generated. Choose your own before doing anything else.
        </p>
        <ChangePasswordForm onChanged={props.onChanged} />
        <p>
          <button type="button" className="link-button" onClick={props.onSignOut}>
            Sign out
          </button>
        </p>
      </div>
    </main>
  );
}
