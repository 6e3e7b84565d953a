/** Session state and top-level routes: sign-in, tenant picker, and the per-tenant pages. */
import { useEffect, useState } from 'react';
import { call, allPages, onSessionEnded, session } from './api';
import { SignIn } from './layout/SignIn';
import { MustChangePassword } from './layout/ChangePassword';
import { InvitePage } from './pages/invite/InvitePage';
import { TenantPicker } from './layout/TenantPicker';
import { TenantArea } from './layout/TenantArea';
import { navigate, Redirect, usePath } from './router';
import type { Me, Tenant } from '../../src/api/types.js';

type Auth = { kind: 'loading' } | { kind: 'out'; message?: string } | { kind: 'in'; me: Me; tenants: Tenant[] };

async function loadIdentity(): Promise<{ me: Me; tenants: Tenant[] }> {
  const me = await call('me');
  session.noteExpiry(me.session.expiresAt);
  // Until a password someone else set is changed, nothing but /me answers.
  if (me.operator.passwordChangeRequired) return { me, tenants: [] };
  return { me, tenants: await allPages('listTenants', {}, 1000) };
}

export const homeOf = (tenants: Tenant[]) => (tenants.length === 1 && tenants[0] ? `/t/${tenants[0].slug}/jit-accounts` : '/tenants');

export function App() {
  const [auth, setAuth] = useState<Auth>({ kind: 'loading' });
  const path = usePath();

  useEffect(() => {
    onSessionEnded(() => {
      session.clear();
      setAuth({ kind: 'out', message: 'Your session has ended. Sign in again to continue.' });
    });
    if (!session.csrf()) {
      setAuth({ kind: 'out' });
      return;
    }
    loadIdentity().then(
      (id) => setAuth({ kind: 'in', ...id }),
      () => setAuth((a) => (a.kind === 'loading' ? { kind: 'out' } : a)),
    );
  }, []);

  const signedIn = async () => {
    const id = await loadIdentity();
    setAuth({ kind: 'in', ...id });
    if (path === '/' || path === '/sign-in') navigate(homeOf(id.tenants), { replace: true });
  };

  const signOut = async () => {
    try {
      await call('logout');
    } catch {
      /* the session may already be gone: signed out either way */
    }
    session.clear();
    session.forgetCookie();
    setAuth({ kind: 'out', message: 'You have signed out.' });
    navigate('/sign-in');
  };

  if (auth.kind === 'loading') return <p className="loading">Loading…</p>;
  const invite = /^\/invite\/([^/]+)$/.exec(path);
  if (invite) {
    const reload = async () => setAuth({ kind: 'in', ...(await loadIdentity()) });
    return <InvitePage token={decodeURIComponent(invite[1] ?? '')} signedInAs={auth.kind === 'in' ? auth.me.operator.email : null} onAccepted={reload} />;
  }
  if (auth.kind === 'out') return <SignIn message={auth.message} onSignedIn={signedIn} />;
  if (auth.me.operator.passwordChangeRequired) {
    return <MustChangePassword email={auth.me.operator.email} onChanged={() => void signedIn()} onSignOut={() => void signOut()} />;
  }

  if (path === '/' || path === '/sign-in') return <Redirect to={homeOf(auth.tenants)} />;
  const m = /^\/t\/([^/]+)(\/.*)?$/.exec(path);
  if (!m) return <TenantPicker me={auth.me} tenants={auth.tenants} onSignOut={signOut} />;
  const tenant = auth.tenants.find((t) => t.slug === decodeURIComponent(m[1] ?? ''));
  if (!tenant) return <TenantPicker me={auth.me} tenants={auth.tenants} onSignOut={signOut} notFound={m[1]} />;
  return <TenantArea me={auth.me.operator} tenant={tenant} tenants={auth.tenants} section={m[2] ?? '/'} onSignOut={signOut} />;
}
