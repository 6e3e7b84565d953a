/** Settings → Recordings: how many days the tenant keeps gateway session recordings (admins set it; auditors see it). */
import { useEffect, useState, type FormEvent } from 'react';
import { call, messageOf } from '../../api';
import { FormError, TextField } from '../../components/Field';
import { useWorkspace } from '../../context';
import { RETENTION_DAYS } from '../../../../src/core/recording-retention.js';

export function RecordingSettings() {
  const ws = useWorkspace();
  const canEdit = ws.can('policies.manage');
  const [days, setDays] = useState('');
  const [saved, setSaved] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [fieldError, setFieldError] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    call('getGatewaySettings', { params: { tenant: ws.slug } }).then(
      (s) => {
        setSaved(s.recordingRetentionDays);
        setDays(String(s.recordingRetentionDays));
      },
      (err: unknown) => setError(messageOf(err)),
    );
  }, [ws.slug]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setNotice(null);
    const n = Number(days.trim());
    if (!/^\d+$/.test(days.trim()) || n < RETENTION_DAYS.min || n > RETENTION_DAYS.max) {
      setFieldError(`Enter a number of days from ${RETENTION_DAYS.min} to ${RETENTION_DAYS.max}.`);
      return;
    }
    setFieldError(undefined);
    setBusy(true);
    try {
      const s = await call('setGatewaySettings', { params: { tenant: ws.slug }, body: { recordingRetentionDays: n } });
      setSaved(s.recordingRetentionDays);
      setNotice(`Saved: recordings are kept ${s.recordingRetentionDays} days after their session ends.`);
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="recording-settings-title">
      <h2 id="recording-settings-title">Session recordings</h2>
      <p className="hint section-intro">
        Recordings of SSH gateway sessions are removed this many days after the session ended (checked hourly). The session stays listed, with
        its hash, and each removal is in the audit log.
      </p>
      {saved === null ? (
        error ? null : <p className="loading">Loading…</p>
      ) : (
        <form onSubmit={submit} noValidate>
          <TextField
            id="recording-retention-days"
            label="Keep recordings (days)"
            inputMode="numeric"
            value={days}
            disabled={!canEdit}
            hint={canEdit ? `${RETENTION_DAYS.min}–${RETENTION_DAYS.max}; default ${RETENTION_DAYS.default}.` : 'Admins change this.'}
            error={fieldError}
            onChange={(e) => setDays(e.target.value)}
          />
          {canEdit ? (
            <div className="form-actions">
              <button type="submit" className="primary" disabled={busy}>
                {busy ? 'Saving…' : 'Save'}
              </button>
            </div>
          ) : null}
        </form>
      )}
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <FormError message={error} />
    </section>
  );
}
