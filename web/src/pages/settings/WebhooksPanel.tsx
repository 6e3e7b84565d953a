/**
 * Webhooks: where events are posted (Slack, Teams, or signed generic JSON). The signing secret is
 * shown once, right after creation; "Send test" reports what the receiver answered.
 */
import type { CallResult } from '../../../../src/api/types.js';
import { useCallback, useEffect, useState } from 'react';
import { call, messageOf } from '../../api';
import { FormError } from '../../components/Field';
import { useWorkspace } from '../../context';
import type { Webhook } from '../../../../src/api/types.js';
import { WebhookForm } from './WebhookForm';

type TestResult = CallResult<'testWebhook'>;

function testOutcome(t: TestResult | { error: string }): { ok: boolean; text: string } {
  if (!('delivered' in t)) return { ok: false, text: t.error };
  if (t.delivered) return { ok: true, text: `Delivered: the receiver answered ${t.status}.` };
  return { ok: false, text: `Not delivered${t.status ? ` (HTTP ${t.status})` : ''}: ${t.error ?? 'no answer'}` };
}

export function WebhooksPanel() {
  const ws = useWorkspace();
  const [hooks, setHooks] = useState<Webhook[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [tests, setTests] = useState<Record<string, TestResult | 'sending' | { error: string }>>({});

  const load = useCallback(() => {
    call('listWebhooks', { params: { tenant: ws.slug } }).then(
      (r) => setHooks(r.items),
      (err: unknown) => setError(messageOf(err)),
    );
  }, [ws.slug]);
  useEffect(load, [load]);

  const test = async (h: Webhook) => {
    setTests((t) => ({ ...t, [h.id]: 'sending' }));
    try {
      const r = await call('testWebhook', { params: { tenant: ws.slug, id: h.id } });
      setTests((t) => ({ ...t, [h.id]: r }));
    } catch (err) {
      setTests((t) => ({ ...t, [h.id]: { error: messageOf(err) } }));
    }
  };

  const remove = async (h: Webhook) => {
    try {
      await call('deleteWebhook', { params: { tenant: ws.slug, id: h.id } });
      load();
    } catch (err) {
      setError(messageOf(err));
    }
  };

  return (
    <section className="card" aria-labelledby="webhooks-title">
      <h2 id="webhooks-title">Webhooks</h2>
      <FormError message={error} />
      {secret ? (
        <div className="warning" role="status">
          <p>
            <strong>Signing secret of “{secret.name}” — shown only now.</strong> Give it to the receiver to check the X-Timebox-Signature header.
          </p>
          <input readOnly className="mono" aria-label="Signing secret" value={secret.secret} onFocus={(e) => e.currentTarget.select()} />
          <button type="button" className="link-button" onClick={() => setSecret(null)}>
            I have stored it
          </button>
        </div>
      ) : null}
      {hooks === null ? (
        error ? null : <p className="loading">Loading…</p>
      ) : hooks.length === 0 ? (
        <p className="empty">No webhooks yet.</p>
      ) : (
        <ul className="hook-list">
          {hooks.map((h) => {
            const t = tests[h.id];
            return (
              <li key={h.id} className="hook" aria-label={`Webhook ${h.name}`}>
                <div className="hook-head">
                  <strong>{h.name}</strong> <span className="tag">{h.format}</span>
                  {h.enabled ? null : <span className="tag">disabled</span>}
                  <span className="spacer" />
                  <button type="button" onClick={() => void test(h)} disabled={t === 'sending'}>
                    {t === 'sending' ? 'Sending…' : 'Send test'}
                  </button>
                  <button type="button" className="link-button" onClick={() => void remove(h)} aria-label={`Delete webhook ${h.name}`}>
                    Delete
                  </button>
                </div>
                <p className="mono small">{h.url}</p>
                <p className="hint">{h.events.join(', ')}</p>
                {t && t !== 'sending' ? (
                  <p className={testOutcome(t).ok ? 'ok-text' : 'field-error'} role="status">
                    {testOutcome(t).text}
                  </p>
                ) : null}
              </li>
            );
          })}
        </ul>
      )}
      <WebhookForm
        onCreated={(name, s) => {
          setSecret({ name, secret: s });
          load();
        }}
      />
    </section>
  );
}
