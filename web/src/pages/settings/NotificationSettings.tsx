/** Settings → Notifications: the tenant's SMTP relay and expiry warning, and its webhooks. */
import { SmtpForm } from './SmtpForm';
import { WebhooksPanel } from './WebhooksPanel';

export function NotificationSettingsPage() {
  return (
    <div className="grid-2 settings-columns">
      <SmtpForm />
      <WebhooksPanel />
    </div>
  );
}
