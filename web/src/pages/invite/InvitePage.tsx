/**
 * /invite/<token>: the page an invitation link opens. Someone new chooses their own password
 * here; someone who already has an account accepts while signed in (their consent). The page
 * shows what the link is for, never whether the address already has an account.
 */
import type { CallResult } from '../../../../src/api/types.js';
import { useEffect, useState, type FormEvent } from 'react';
import { call, ApiError, messageOf } from '../../api';
import { FormError, TextField } from '../../components/Field';
import { PASSWORD_RULES } from '../../layout/ChangePassword';
import { navigate } from '../../router';

type Preview = CallResult<'previewInvitation'>;

export function InvitePage(props: { token: string; signedInAs: string | null; onAccepted: () => Promise<void> }) {
  const [preview, setPreview] = useState<Preview | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    document.title = 'Invitation · Timebox';
    call('previewInvitation', { body: { token: props.token } }).then(setPreview, (err: unknown) => setLoadError(messageOf(err)));
  }, [props.token]);

  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const acceptWithPassword = (e: FormEvent) => {
    e.preventDefault();
    if (password !== again) return setError('The two passwords differ.');
    void run(async () => {
      try {
        await call('acceptInvitation', { body: { token: props.token, password, ...(name.trim() ? { displayName: name.trim() } : {}) } });
      } catch (err) {
        if (err instanceof ApiError && (err.details as { signInRequired?: boolean } | undefined)?.signInRequired) {
          throw new Error(`${messageOf(err)}.`);
        }
        throw err;
      }
      setPassword('');
      setAgain('');
      setDone('Your password is set. Sign in with it now.');
    });
  };

  const acceptSignedIn = () =>
    run(async () => {
      await call('acceptInvitationSignedIn', { body: { token: props.token } });
      await props.onAccepted();
      navigate(preview?.tenant ? `/t/${preview.tenant.slug}/jit-accounts` : '/tenants', { replace: true });
    });

  const what = preview?.kind === 'reset' ? 'Choose a new password for your account' : `Join ${preview?.tenant?.name ?? ''}`;
  return (
    <main className="sign-in">
      <div className="card sign-in-card" aria-labelledby="invite-title">
        <h1 id="invite-title">{preview ? what : 'Invitation'}</h1>
        {loadError ? <FormError message={`${loadError}.`} /> : null}
        {preview ? (
          <p className="notice" role="status">
            {preview.kind === 'reset'
              ? `A platform administrator reset the sign-in of ${preview.email}.`
              : `${preview.email} is invited to ${preview.tenant?.name} as ${preview.roles.join(', ')}.`}{' '}
            The link works once, until {new Date(preview.expiresAt).toLocaleString()}.
          </p>
        ) : null}
        {done ? (
          <>
            <p className="notice" role="status">{done}</p>
            <button type="button" className="primary" onClick={() => navigate('/sign-in')}>Sign in</button>
          </>
        ) : preview && props.signedInAs && preview.kind === 'member' ? (
          <>
            <FormError message={error} />
            <p>You are signed in as {props.signedInAs}. Accepting adds this account to {preview.tenant?.name}.</p>
            <button type="button" className="primary" disabled={busy} onClick={() => void acceptSignedIn()}>
              Accept invitation
            </button>
          </>
        ) : preview ? (
          <form onSubmit={acceptWithPassword} noValidate aria-label="Accept invitation">
            <FormError message={error} />
            {preview.kind === 'member' ? (
              <p className="hint">New to Timebox? Choose your password below. Already have an account? Sign in first, then open this link again.</p>
            ) : null}
            {preview.kind === 'member' ? <TextField id="display-name" label="Your name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} /> : null}
            <TextField id="new-password" label="Password" type="password" autoComplete="new-password" hint={PASSWORD_RULES} value={password} onChange={(e) => setPassword(e.target.value)} />
            <TextField id="new-password-again" label="Password again" type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} />
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Saving…' : preview.kind === 'reset' ? 'Set password' : 'Accept and set password'}
            </button>
          </form>
        ) : null}
      </div>
    </main>
  );
}
