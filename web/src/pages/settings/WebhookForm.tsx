/** Add a webhook: name, URL, format and the events it receives. */
import { useState, type FormEvent } from 'react';
import { call } from '../../api';
import { CheckList } from '../../components/CheckList';
import { FormError, SelectField, TextField } from '../../components/Field';
import { useWorkspace } from '../../context';
import { placeError, type FieldErrors } from '../../forms';
import type { Webhook } from '../../../../src/api/types.js';
import { notificationEventTypes, type NotificationEventType } from '../../../../src/notify/events.js';


type Field = 'name' | 'url' | 'events';

export function WebhookForm(props: { onCreated: (name: string, secret: string) => void }) {
  const ws = useWorkspace();
  const [v, setV] = useState<{ name: string; url: string; format: Webhook['format'] }>({ name: '', url: '', format: 'generic' });
  const [chosen, setChosen] = useState<NotificationEventType[]>(['approval_requested', 'break_glass', 'revoke_failed']);
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [busy, setBusy] = useState(false);
  const bind = (k: 'name' | 'url' | 'format') => ({
    value: v[k],
    error: k === 'format' ? undefined : errors[k],
    onChange: (e: { target: { value: string } }) => {
      setV((cur) => ({ ...cur, [k]: e.target.value }));
      setErrors({});
    },
  });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found: FieldErrors<Field> = {
      name: v.name.trim() ? undefined : 'Give the webhook a name.',
      url: v.url.trim() ? undefined : 'Enter the URL to post to.',
      events: chosen.length ? undefined : 'Choose at least one event.',
    };
    setErrors(found);
    if (Object.values(found).some(Boolean)) return;
    setBusy(true);
    try {
      const r = await call('createWebhook', { params: { tenant: ws.slug }, body: { name: v.name.trim(), url: v.url.trim(), format: v.format, events: chosen } });
      setV({ name: '', url: '', format: 'generic' });
      props.onCreated(r.webhook.name, r.secret);
    } catch (err) {
      setErrors(placeError(err, { 'body.name': 'name', 'body.url': 'url', 'body.events': 'events' }, [[/url/i, 'url']]));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} noValidate aria-labelledby="new-hook-title" className="sub-form">
      <h3 id="new-hook-title">Add a webhook</h3>
      <FormError message={errors.form} />
      <div className="grid-2">
        <TextField id="hook-name" label="Webhook name" {...bind('name')} />
        <SelectField id="hook-format" label="Format" {...bind('format')}>
          <option value="generic">Generic JSON (signed)</option>
          <option value="slack">Slack</option>
          <option value="teams">Microsoft Teams</option>
        </SelectField>
      </div>
      <TextField id="hook-url" label="URL" placeholder="https://hooks.example.com/…" {...bind('url')} />
      <CheckList compact legend="Events" options={notificationEventTypes.map((x) => ({ value: x, label: x.replace(/_/g, ' ') }))} selected={chosen} onChange={(c) => setChosen(notificationEventTypes.filter((x) => c.includes(x)))} error={errors.events} filterFrom={99} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Adding…' : 'Add webhook'}
        </button>
      </div>
    </form>
  );
}
