/** One tenant's pages: header, sidebar, live updates, and the page for the current path. */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { WorkspaceContext } from '../context';
import { LiveProvider, useLiveStatus } from '../live';
import { can, type Permission } from '../../../src/core/roles.js';
import { Link } from '../router';
import type { Operator, Tenant } from '../../../src/api/types.js';
import { ActivateWizard } from '../wizard/ActivateWizard';
import { JitAccountsPage } from '../pages/JitAccountsPage';
import { RequestsPage } from '../pages/RequestsPage';
import { ApprovalsPage } from '../pages/ApprovalsPage';
import { TargetsPage } from '../pages/TargetsPage';
import { PoliciesPage } from '../pages/PoliciesPage';
import { AuditPage } from '../pages/AuditPage';
import { SettingsPage } from '../pages/SettingsPage';
import { FleetPage } from '../pages/FleetPage';
import { ReviewsPage } from '../pages/ReviewsPage';
import { SessionsPage } from '../pages/SessionsPage';
import { ConnectionBanner } from './ConnectionBanner';
import { useDecisionNotices } from './useDecisionNotices';
import { useWaitingApprovals } from './useWaitingApprovals';

interface Section {
  path: string;
  label: string;
  needs?: Permission;
  render: () => ReactNode;
}

const sections: Section[] = [
  { path: '/jit-accounts', label: 'Just-in-time accounts', render: () => <JitAccountsPage /> },
  { path: '/requests', label: 'Requests', render: () => <RequestsPage /> },
  { path: '/approvals', label: 'Approvals', render: () => <ApprovalsPage /> },
  { path: '/reviews', label: 'Reviews', needs: 'approvals.decide', render: () => <ReviewsPage /> },
  { path: '/targets', label: 'Targets', needs: 'targets.read', render: () => <TargetsPage /> },
  { path: '/agents', label: 'Agents', needs: 'targets.manage', render: () => <FleetPage /> },
  { path: '/policies', label: 'Policies', needs: 'policies.read', render: () => <PoliciesPage /> },
  { path: '/sessions', label: 'Sessions', needs: 'audit.read', render: () => <SessionsPage /> },
  { path: '/audit', label: 'Audit', needs: 'audit.read', render: () => <AuditPage /> },
  { path: '/settings', label: 'Settings', render: () => <SettingsPage /> },
];

/** What waits for my decision, as a count: beside "Approvals" in the sidebar, and on the phone's menu button. */
function WaitingCount({ count, testId }: { count: number | null; testId: string }) {
  if (!count) return null;
  return (
    <span className="count" data-testid={testId}>
      {count}
      <span className="sr-only"> waiting for you</span>
    </span>
  );
}

function DecisionNotices({ tenant }: { tenant: string }) {
  const { notices, dismiss, watching } = useDecisionNotices(tenant);
  return (
    <div aria-live="polite" className="decision-notices" data-watching={watching}>
      {notices.map((n) => (
        <p key={n.id} className={`notice decision decision-${n.tone}`} role="status" data-testid="decision-notice">
          <span>
            {n.text} <Link to={`/t/${tenant}/requests`}>See your requests</Link>
          </span>
          <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => dismiss(n.id)}>
            ×
          </button>
        </p>
      ))}
    </div>
  );
}

function LiveIndicator() {
  const status = useLiveStatus();
  const text = status === 'live' ? 'Live' : status === 'connecting' ? 'Connecting…' : 'Offline';
  return (
    <span className={`live live-${status}`} role="status" title="Updates from the server without reloading">
      {text}
    </span>
  );
}

type AreaProps = { me: Operator; tenant: Tenant; tenants: Tenant[]; section: string; onSignOut: () => void };

export function TenantArea(props: AreaProps) {
  return (
    <WorkspaceContext.Provider value={{ tenant: props.tenant, me: props.me }}>
      <LiveProvider tenant={props.tenant.slug}>
        <Shell {...props} />
      </LiveProvider>
    </WorkspaceContext.Provider>
  );
}

/** Inside the live stream: the header, the sections and the page. */
function Shell(props: AreaProps) {
  const { tenant } = props;
  const section = props.section === '/' ? '/jit-accounts' : props.section;
  const visible = sections.filter((s) => !s.needs || can(tenant.roles, s.needs));
  const wizard = section === '/jit-accounts/activate';
  const current = visible.find((s) => section === s.path || section.startsWith(`${s.path}/`));
  const mainRef = useRef<HTMLElement>(null);
  const title = wizard ? 'Activate JIT account' : (current?.label ?? 'Not found');
  // On a narrow screen the sections fold into a menu, closed again by choosing one.
  const [menuOpen, setMenuOpen] = useState(false);
  const waiting = useWaitingApprovals(tenant.slug);
  useEffect(() => setMenuOpen(false), [section]);

  useEffect(() => {
    document.title = `${title} · ${tenant.name} · Timebox`;
    mainRef.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [title, tenant.name]);

  return (
    <>
      <a href="#main-content" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="tenant-sections"
          onClick={() => setMenuOpen((o) => !o)}
        >
          Menu
          <WaitingCount count={waiting} testId="menu-approvals-count" />
        </button>
        <span className="brand">Timebox</span>
        <span className="tenant-title">{tenant.name}</span>
        {props.tenants.length > 1 ? <Link to="/tenants">Switch tenant</Link> : null}
        <span className="spacer" />
        <LiveIndicator />
        <span className="who">{props.me.email}</span>
        <button type="button" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      <div className="layout">
        <nav id="tenant-sections" className={menuOpen ? 'sidebar open' : 'sidebar'} aria-label={`${tenant.name} sections`}>
          <ul>
            {visible.map((s) => (
              <li key={s.path}>
                <Link to={`/t/${tenant.slug}${s.path}`} aria-current={current === s ? 'page' : undefined}>
                  {s.label}
                </Link>
                {/* Beside the link, not in it: the link keeps its name ("Approvals"). */}
                {s.path === '/approvals' ? <WaitingCount count={waiting} testId="approvals-count" /> : null}
              </li>
            ))}
          </ul>
        </nav>
        <main className="content" id="main-content" ref={mainRef}>
          <ConnectionBanner />
          <DecisionNotices tenant={tenant.slug} />
          {wizard ? (
            <ActivateWizard />
          ) : current ? (
            current.render()
          ) : (
            <div>
              <h1 tabIndex={-1}>Not found</h1>
              <p>
                This page does not exist. <Link to={`/t/${tenant.slug}/jit-accounts`}>Go to just-in-time accounts</Link>.
              </p>
            </div>
          )}
        </main>
      </div>
    </>
  );
}
