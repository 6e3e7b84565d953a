/**
 * Single sign-on (OpenID Connect) for this tenant: the provider, the client, which claims carry
 * email and groups, how IdP groups map to roles and operator groups, and whether password
 * sign-in is refused. The client secret is write-only: empty keeps the stored one.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { Role, SsoSettings } from '../../../../src/api/types.js';
import { call, ApiError, messageOf } from '../../api';
import { FormError, TextArea, TextField } from '../../components/Field';
import { useWorkspace } from '../../context';
import { focusFirstInvalid } from '../../forms';

const blank = {
  issuer: '',
  clientId: '',
  clientSecret: '',
  scopes: 'openid email profile groups',
  emailClaim: 'email',
  emailVerifiedClaim: 'email_verified',
  groupsClaim: 'groups',
  roleMappings: '',
  groupMappings: '',
  requireSso: false,
  breakGlass: '',
};
type Values = typeof blank;

/** "IdP group = a, b" per line. */
function parseLines(text: string): { group: string; values: string[] }[] | string {
  const out: { group: string; values: string[] }[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.lastIndexOf('=');
    if (at <= 0) return `Line ${i + 1}: write “IdP group = …”.`;
    const values = line.slice(at + 1).split(',').map((s) => s.trim()).filter(Boolean);
    if (!values.length) return `Line ${i + 1}: nothing after “=”.`;
    out.push({ group: line.slice(0, at).trim(), values });
  }
  return out;
}

export function SsoSettingsForm() {
  const ws = useWorkspace();
  const formRef = useRef<HTMLFormElement>(null);
  const [saved, setSaved] = useState<SsoSettings | null>(null);
  const [redirectUri, setRedirectUri] = useState<string | null>(null);
  const [v, setV] = useState<Values>(blank);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [loaded, setLoaded] = useState(false);

  const show = (s: SsoSettings) => {
    setSaved(s);
    setRedirectUri(s.redirectUri);
    setV({
      issuer: s.issuer,
      clientId: s.clientId,
      clientSecret: '',
      scopes: s.scopes.join(' '),
      emailClaim: s.emailClaim,
      emailVerifiedClaim: s.emailVerifiedClaim,
      groupsClaim: s.groupsClaim,
      roleMappings: s.roleMappings.map((m) => `${m.group} = ${m.roles.join(', ')}`).join('\n'),
      groupMappings: s.groupMappings.map((m) => `${m.group} = ${m.operatorGroup}`).join('\n'),
      requireSso: s.requireSso,
      breakGlass: s.breakGlassEmails.join(', '),
    });
  };

  useEffect(() => {
    call('getSsoSettings', { params: { tenant: ws.slug } }).then(
      (s) => {
        show(s);
        setLoaded(true);
      },
      (err: unknown) => {
        // Not set up yet: the server still says which redirect URI to register.
        const details = err instanceof ApiError ? (err.details as { redirectUri?: string } | undefined) : undefined;
        if (err instanceof ApiError && err.status === 404) setRedirectUri(details?.redirectUri ?? null);
        else setError(messageOf(err));
        setLoaded(true);
      },
    );
  }, [ws.slug]);

  const text = (k: keyof Values) => ({
    value: String(v[k]),
    onChange: (e: { target: { value: string } }) => setV((cur) => ({ ...cur, [k]: e.target.value })),
  });

  const save = async (e: FormEvent) => {
    e.preventDefault();
    const roles = parseLines(v.roleMappings);
    const groups = parseLines(v.groupMappings);
    const problem = typeof roles === 'string' ? `Role mapping: ${roles}` : typeof groups === 'string' ? `Group mapping: ${groups}` : null;
    if (problem || typeof roles === 'string' || typeof groups === 'string') {
      setError(problem);
      return focusFirstInvalid(formRef.current);
    }
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      show(
        await call('setSsoSettings', { params: { tenant: ws.slug }, body: {
          issuer: v.issuer.trim(),
          clientId: v.clientId.trim(),
          ...(v.clientSecret ? { clientSecret: v.clientSecret } : {}),
          scopes: v.scopes.split(/\s+/).filter(Boolean),
          emailClaim: v.emailClaim.trim(),
          emailVerifiedClaim: v.emailVerifiedClaim.trim(),
          groupsClaim: v.groupsClaim.trim(),
          // Roles as chosen: the server refuses one it does not know, naming it.
          roleMappings: roles.map((m) => ({ group: m.group, roles: m.values as Role[] })),
          groupMappings: groups.flatMap((m) => m.values.map((g) => ({ group: m.group, operatorGroup: g }))),
          requireSso: v.requireSso,
          breakGlassEmails: v.breakGlass.split(/[\s,]+/).filter(Boolean),
        } }),
      );
      setNotice('Single sign-on saved.');
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setBusy(true);
    try {
      await call('deleteSsoSettings', { params: { tenant: ws.slug } });
      setSaved(null);
      setV(blank);
      setNotice('Single sign-on removed. Password sign-in works again for everyone here.');
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  if (!loaded) return <p className="loading">Loading single sign-on settings…</p>;
  return (
    <form ref={formRef} className="card form" noValidate aria-labelledby="sso-title" onSubmit={(e) => void save(e)}>
      <h2 id="sso-title">Single sign-on (OpenID Connect)</h2>
      {redirectUri ? (
        <p className="hint">
          Register this redirect URI at your identity provider: <code data-testid="sso-redirect-uri">{redirectUri}</code>
        </p>
      ) : null}
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <FormError message={error} />
      <div className="grid-2">
        <TextField id="sso-issuer" label="Issuer URL" placeholder="https://login.example.com/realms/acme" {...text('issuer')} />
        <TextField id="sso-client-id" label="Client ID" autoComplete="off" {...text('clientId')} />
        <TextField
          id="sso-client-secret"
          label="Client secret"
          type="password"
          autoComplete="new-password"
          placeholder={saved?.clientSecretSet ? 'stored; type to replace' : ''}
          hint={saved?.clientSecretSet ? 'A secret is stored. It is never shown; empty keeps it.' : 'Never shown again once saved.'}
          {...text('clientSecret')}
        />
        <TextField id="sso-scopes" label="Scopes" hint="Separated by spaces; openid is required." {...text('scopes')} />
        <TextField id="sso-email-claim" label="Email claim" {...text('emailClaim')} />
        <TextField id="sso-email-verified-claim" label="Email verified claim" hint="Entra ID: xms_edov" {...text('emailVerifiedClaim')} />
        <TextField id="sso-groups-claim" label="Groups claim" {...text('groupsClaim')} />
      </div>
      <TextArea
        id="sso-role-mappings"
        label="IdP groups → roles"
        hint="One per line: IdP group = role, role (owner, admin, approver, requester, auditor). Re-applied at every sign-in; a person in none of these groups cannot sign in."
        rows={4}
        {...text('roleMappings')}
      />
      <TextArea id="sso-group-mappings" label="IdP groups → operator groups" hint="One per line: IdP group = operator group name." rows={3} {...text('groupMappings')} />
      <label className="choice">
        <input type="checkbox" checked={v.requireSso} onChange={(e) => setV({ ...v, requireSso: e.target.checked })} /> Require single sign-on (password sign-in is refused for members)
      </label>
      <TextField
        id="sso-break-glass"
        label="Break-glass owners"
        hint="Emails of owners who may still sign in with password and authenticator code when single sign-on is required."
        {...text('breakGlass')}
      />
      <div className="form-actions">
        {saved ? (
          <button type="button" onClick={() => void remove()} disabled={busy}>
            Remove single sign-on
          </button>
        ) : null}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save single sign-on'}
        </button>
      </div>
    </form>
  );
}
