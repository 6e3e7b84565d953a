/** Settings → Security: change your own password; your other sessions end, this one stays. */
import { useState } from 'react';
import { ChangePasswordForm } from '../../layout/ChangePassword';

export function PasswordSettings() {
  const [notice, setNotice] = useState<string | null>(null);
  return (
    <section className="card narrow" aria-labelledby="password-title">
      <h2 id="password-title">Password</h2>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <ChangePasswordForm onChanged={(n) => setNotice(`Your password is changed. ${n} other session(s) ended; this one stays signed in.`)} />
    </section>
  );
}
