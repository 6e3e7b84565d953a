/** "Settings": general, security (password, authenticator app), members, groups, notifications, JIT accounts, recordings; one page each. */
import type { ReactNode } from 'react';
import { PageHeader } from '../components/PageHeader';
import { useWorkspace } from '../context';
import type { Permission } from '../../../src/core/roles.js';
import { Link, usePath } from '../router';
import { GeneralSettings } from './settings/GeneralSettings';
import { GroupsSettings } from './settings/GroupsSettings';
import { JitSettings } from './settings/JitSettings';
import { NotificationSettingsPage } from './settings/NotificationSettings';
import { SecuritySettings } from './settings/SecuritySettings';
import { SsoSettingsForm } from './settings/SsoSettings';
import { PasswordSettings } from './settings/PasswordSettings';
import { MembersSettings } from './settings/MembersSettings';
import { RecordingSettings } from './settings/RecordingSettings';

interface Tab {
  path: string;
  label: string;
  needs?: Permission;
  render: () => ReactNode;
}

const tabs: Tab[] = [
  { path: '', label: 'General', render: () => <GeneralSettings /> },
  {
    path: '/security',
    label: 'Security',
    render: () => (
      <>
        <PasswordSettings />
        <SecuritySettings />
      </>
    ),
  },
  { path: '/members', label: 'Members', needs: 'members.manage', render: () => <MembersSettings /> },
  { path: '/groups', label: 'Groups', needs: 'policies.read', render: () => <GroupsSettings /> },
  { path: '/notifications', label: 'Notifications', needs: 'members.manage', render: () => <NotificationSettingsPage /> },
  { path: '/jit-accounts', label: 'JIT accounts', needs: 'targets.manage', render: () => <JitSettings /> },
  { path: '/sso', label: 'Single sign-on', needs: 'owners.manage', render: () => <SsoSettingsForm /> },
  { path: '/recordings', label: 'Recordings', needs: 'audit.read', render: () => <RecordingSettings /> },
];

export function SettingsPage() {
  const ws = useWorkspace();
  const path = usePath();
  const base = `/t/${ws.slug}/settings`;
  const sub = path.startsWith(base) ? path.slice(base.length).replace(/\/$/, '') : '';
  const visible = tabs.filter((t) => !t.needs || ws.can(t.needs));
  const current = visible.find((t) => t.path === sub);
  return (
    <div>
      <PageHeader title="Settings" intro={`Your account, security, and how ${ws.tenant.name} works.`} />
      <nav className="tabs" aria-label="Settings pages">
        <ul>
          {visible.map((t) => (
            <li key={t.path}>
              <Link to={base + t.path} aria-current={t === current ? 'page' : undefined}>
                {t.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      {current ? current.render() : <p>This settings page does not exist.</p>}
    </div>
  );
}
