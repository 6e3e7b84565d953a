/** "Sign in with SSO": the tenant's slug, then the browser goes to the tenant's identity provider. */
import { useState, type FormEvent } from 'react';
import { TextField } from '../components/Field';

const SLUG = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

export function SsoSignIn() {
  const [tenant, setTenant] = useState('');
  const [error, setError] = useState<string | null>(null);
  const go = (e: FormEvent) => {
    e.preventDefault();
    const slug = tenant.trim().toLowerCase();
    if (!SLUG.test(slug)) {
      setError('Enter your organisation’s tenant name, e.g. acme.');
      return;
    }
    window.location.assign(`/api/v1/auth/sso/${encodeURIComponent(slug)}/start`);
  };
  return (
    <form className="card sign-in-card" onSubmit={go} noValidate aria-labelledby="sso-sign-in-title">
      <h2 id="sso-sign-in-title">Single sign-on</h2>
      <TextField
        id="sso-tenant"
        label="Tenant"
        hint="Your organisation signs you in through its identity provider."
        autoComplete="organization"
        value={tenant}
        error={error}
        onChange={(e) => {
          setTenant(e.target.value);
          setError(null);
        }}
      />
      <button type="submit">Continue with SSO</button>
    </form>
  );
}
