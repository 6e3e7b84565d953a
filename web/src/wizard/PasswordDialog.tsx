/**
 * The generated password, revealed once on request and never again: Timebox erases it as it is
 * read. Copy puts it on the clipboard; nothing is logged or kept by the page.
 */
import { useRef, useState } from 'react';
import { api, messageOf, tenantPath } from '../api';
import { Dialog } from '../components/Dialog';
import { FormError } from '../components/Field';
import { useTotpStep } from '../components/TotpField';
import { formatDate } from '../format';
import type { Credential, Grant } from '../types';

async function copyText(input: HTMLInputElement, text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input.select();
    return document.execCommand('copy');
  }
}

export function PasswordDialog(props: { tenant: string; grant: Grant; onClose: () => void }) {
  const { grant } = props;
  const [credential, setCredential] = useState<Credential | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState<string | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  const totp = useTotpStep('reveal-totp');

  const reveal = async () => {
    setBusy(true);
    setError(null);
    try {
      setCredential(await api.post<Credential>(tenantPath(props.tenant, `/grants/${grant.id}/credential`), totp.body()));
    } catch (err) {
      if (!totp.handle(err)) setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const copy = async () => {
    if (!credential?.password || !inputRef.current) return;
    const ok = await copyText(inputRef.current, credential.password);
    setCopied(ok ? 'Copied to the clipboard.' : 'Copy failed: select the password and copy it by hand.');
  };

  return (
    <Dialog title="Your JIT account is ready" onClose={props.onClose}>
      <dl className="facts">
        <dt>Username</dt>
        <dd data-testid="credential-username">{credential?.username ?? grant.username}</dd>
        <dt>Target</dt>
        <dd>{grant.targetName}</dd>
        <dt>Active until</dt>
        <dd>{formatDate(credential?.expiresAt ?? grant.expiresAt)}</dd>
      </dl>
      <p className="warning" id="only-once">
        <strong>This is the only time the password is shown.</strong> Timebox does not keep it: copy it into your password manager
        now. If it is lost, enable the account again to get a new one.
      </p>
      <FormError message={error} />
      {credential?.password ? (
        <div className="field">
          <label htmlFor="jit-password">Password</label>
          <div className="inline">
            <input id="jit-password" ref={inputRef} readOnly value={credential.password} className="mono" aria-describedby="only-once" />
            <button type="button" onClick={copy}>
              Copy
            </button>
          </div>
          <p className="hint" role="status">
            {copied ?? ''}
          </p>
        </div>
      ) : credential ? (
        <p>This account signs in without a password (the target issued none).</p>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void reveal();
          }}
        >
          {totp.field}
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Revealing…' : 'Reveal password'}
          </button>
        </form>
      )}
      <div className="dialog-actions">
        <button type="button" onClick={props.onClose}>
          {credential ? 'Done' : 'Later'}
        </button>
      </div>
    </Dialog>
  );
}
