/** Several tenants (customers): choose which one to work in. */
import { useEffect } from 'react';
import { Link } from '../router';
import type { Me, Tenant } from '../../../src/api/types.js';

/** A tenant slug as tenants are named (src/api/fields.ts); anything else is not shown back. */
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

export function TenantPicker(props: { me: Me; tenants: Tenant[]; onSignOut: () => void; notFound?: string | undefined }) {
  useEffect(() => {
    document.title = 'Choose a tenant · Timebox';
  }, []);
  return (
    <div className="picker-page">
      <header className="topbar">
        <span className="brand">Timebox</span>
        <span className="spacer" />
        <span className="who">{props.me.operator.email}</span>
        <button type="button" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      <main className="picker" id="main-content">
        <h1>Choose a tenant</h1>
        {props.notFound ? (
          <p className="form-error" role="alert">
            {/* The address is anyone's to write (a link can carry any text): only a slug is echoed. */}
            {SLUG.test(props.notFound) ? `There is no tenant “${props.notFound}” that you can open.` : 'There is no tenant at that address that you can open.'}
          </p>
        ) : null}
        {props.tenants.length === 0 ? (
          <p>You are not a member of any tenant yet. Ask an owner to add you.</p>
        ) : (
          <ul className="tenant-list">
            {props.tenants.map((t) => (
              <li key={t.id}>
                <Link to={`/t/${t.slug}/jit-accounts`} className="tenant-card">
                  <span className="tenant-name">{t.name}</span>
                  <span className="tenant-meta">
                    {t.slug} · {t.roles.join(', ')}
                  </span>
                </Link>
              </li>
            ))}
          </ul>
        )}
      </main>
    </div>
  );
}
