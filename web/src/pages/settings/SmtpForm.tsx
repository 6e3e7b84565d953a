/**
 * Email through the tenant's SMTP relay, and how long before the end people are warned. The
 * password is write-only: the page only learns whether one is stored; empty keeps it.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { call, messageOf } from '../../api';
import { FormError, TextField } from '../../components/Field';
import { useWorkspace } from '../../context';
import { formatDuration, parseDuration } from '../../format';
import { focusFirstInvalid, placeError, type FieldErrors } from '../../forms';
import type { NotificationSettings } from '../../../../src/api/types.js';

type Field = 'host' | 'port' | 'username' | 'password' | 'from' | 'warning';
const paths: Partial<Record<string, Field>> = {
  'body.smtp.host': 'host',
  'body.smtp.port': 'port',
  'body.smtp.username': 'username',
  'body.smtp.password': 'password',
  'body.smtp.from': 'from',
  'body.expiryWarningSeconds': 'warning',
};
const blank = { host: '', port: '587', username: '', password: '', from: '', warning: '15m', secure: false, requireTls: true, clearPassword: false };

export function SmtpForm() {
  const ws = useWorkspace();
  const formRef = useRef<HTMLFormElement>(null);
  const [saved, setSaved] = useState<NotificationSettings | null>(null);
  const [v, setV] = useState(blank);
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const show = (s: NotificationSettings) => {
    setSaved(s);
    setV({
      ...blank,
      ...(s.smtp ? { host: s.smtp.host, port: String(s.smtp.port), username: s.smtp.username ?? '', from: s.smtp.from, secure: s.smtp.secure, requireTls: s.smtp.requireTls } : {}),
      warning: formatDuration(s.expiryWarningSeconds),
    });
  };
  // The form appears once the stored settings are in: filling it earlier would be overwritten.
  const [loaded, setLoaded] = useState(false);
  useEffect(() => {
    call('getNotificationSettings', { params: { tenant: ws.slug } }).then(
      (s) => {
        show(s);
        setLoaded(true);
      },
      (err: unknown) => {
        setErrors({ form: messageOf(err) });
        setLoaded(true);
      },
    );
  }, [ws.slug]);

  const bind = (k: Field) => ({
    value: v[k],
    error: errors[k],
    onChange: (e: { target: { value: string } }) => {
      setV((cur) => ({ ...cur, [k]: e.target.value }));
      setErrors((cur) => ({ ...cur, [k]: undefined }));
    },
  });

  const save = async (off: boolean) => {
    const warning = parseDuration(v.warning);
    const port = Number(v.port);
    const found: FieldErrors<Field> = off
      ? {}
      : {
          host: v.host.trim() ? undefined : 'Enter the relay’s host name.',
          port: Number.isInteger(port) && port >= 1 && port <= 65535 ? undefined : 'Enter a port from 1 to 65535.',
          from: v.from.includes('@') ? undefined : 'Enter the sender address, e.g. timebox@example.com.',
        };
    found.warning = warning === null ? 'Enter a duration such as 15m or 1h.' : undefined;
    setErrors(found);
    if (Object.values(found).some(Boolean)) return focusFirstInvalid(formRef.current);
    setBusy(true);
    setNotice(null);
    try {
      const smtp = off
        ? null
        : {
            host: v.host.trim(),
            port,
            secure: v.secure,
            requireTls: v.requireTls,
            username: v.username.trim() || null,
            from: v.from.trim(),
            ...(v.clearPassword ? { password: null } : v.password ? { password: v.password } : {}),
          };
      show(await call('setNotificationSettings', { params: { tenant: ws.slug }, body: { smtp, expiryWarningSeconds: warning ?? undefined } }));
      setNotice(off ? 'Email is off.' : 'Email settings saved.');
    } catch (err) {
      setErrors(placeError(err, paths, [[/smtp\.host/, 'host'], [/username|TLS/i, 'username']]));
      focusFirstInvalid(formRef.current);
    } finally {
      setBusy(false);
    }
  };

  const passwordSet = !!saved?.smtp?.passwordSet;
  if (!loaded) return <p className="loading">Loading email settings…</p>;
  return (
    <form
      ref={formRef}
      className="card form"
      noValidate
      aria-labelledby="smtp-title"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        void save(false);
      }}
    >
      <h2 id="smtp-title">Email (SMTP)</h2>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <FormError message={errors.form} />
      <div className="grid-2">
        <TextField id="smtp-host" label="SMTP host" placeholder="smtp.example.com" {...bind('host')} />
        <TextField id="smtp-port" label="Port" inputMode="numeric" {...bind('port')} />
        <TextField id="smtp-username" label="Username (optional)" autoComplete="off" {...bind('username')} />
        <TextField
          id="smtp-password"
          label="Password"
          type="password"
          autoComplete="new-password"
          placeholder={passwordSet ? 'stored; type to replace' : ''}
          hint={passwordSet ? 'A password is stored. It is never shown; empty keeps it. A new host, port or TLS setting needs it again.' : 'Never shown again once saved.'}
          disabled={v.clearPassword}
          {...bind('password')}
        />
        <TextField id="smtp-from" label="From address" placeholder="timebox@example.com" {...bind('from')} />
        <TextField id="smtp-warning" label="Warn before the end" hint="e.g. 15m; emailed to the person." {...bind('warning')} />
      </div>
      <div className="inline wrap">
        <label className="choice">
          <input type="checkbox" checked={v.secure} onChange={(e) => setV({ ...v, secure: e.target.checked })} /> Implicit TLS (port 465)
        </label>
        <label className="choice">
          <input type="checkbox" checked={v.requireTls} onChange={(e) => setV({ ...v, requireTls: e.target.checked })} /> Require TLS
        </label>
        {passwordSet ? (
          <label className="choice">
            <input type="checkbox" checked={v.clearPassword} onChange={(e) => setV({ ...v, clearPassword: e.target.checked, password: '' })} /> Remove the stored password
          </label>
        ) : null}
      </div>
      <div className="form-actions">
        {saved?.smtp ? (
          <button type="button" onClick={() => void save(true)} disabled={busy}>
            Turn email off
          </button>
        ) : null}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save email settings'}
        </button>
      </div>
    </form>
  );
}
