/**
 * Settings → JIT accounts: per target, whether JIT accounts may be created there, which of the
 * target's groups they may get, and which operator groups may create them (owners, admins and
 * approvers always may). Targets whose kind creates no JIT accounts say so (the server's answer).
 */
import { useEffect, useState } from 'react';
import { call, allPages, messageOf } from '../../api';
import { FormError, SelectField } from '../../components/Field';
import { useWorkspace } from '../../context';
import { useTargetKinds } from '../targets/kinds';
import type { Target } from '../../../../src/api/types.js';
import { JitSettingsForm, type JitSettingsView } from './JitSettingsForm';

export function JitSettings() {
  const ws = useWorkspace();
  const [targets, setTargets] = useState<Target[] | null>(null);
  const [targetId, setTargetId] = useState('');
  const [settings, setSettings] = useState<JitSettingsView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { kinds } = useTargetKinds();
  const kindLabel = (kind: string) => kinds?.find((k) => k.kind === kind)?.label ?? kind;

  useEffect(() => {
    allPages('listTargets', { params: { tenant: ws.slug } }).then(
      (t) => {
        setTargets(t);
        setTargetId((cur) => cur || t[0]?.id || '');
      },
      (err: unknown) => setError(messageOf(err)),
    );
  }, [ws.slug]);

  useEffect(() => {
    if (!targetId) return;
    let stale = false;
    setSettings(null);
    setError(null);
    call('getJitSettings', { params: { tenant: ws.slug, targetId } }).then(
      (s) => !stale && setSettings(s),
      (err: unknown) => !stale && setError(messageOf(err)),
    );
    return () => {
      stale = true;
    };
  }, [ws.slug, targetId]);

  const target = targets?.find((t) => t.id === targetId);
  return (
    <section className="card" aria-labelledby="jit-settings-title">
      <h2 id="jit-settings-title">Just-in-time accounts</h2>
      <p className="hint section-intro">
        Per target: allow JIT accounts, choose the privileged groups they may get, and who may create them besides owners, admins and
        approvers. A target without saved settings works as before: its policies alone decide.
      </p>
      {targets === null ? (
        error ? null : <p className="loading">Loading…</p>
      ) : targets.length === 0 ? (
        <p className="empty">No targets yet.</p>
      ) : (
        <SelectField id="jit-target" label="Target" value={targetId} onChange={(e) => setTargetId(e.target.value)} className="narrow-select">
          {targets.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name} ({kindLabel(t.kind)})
            </option>
          ))}
        </SelectField>
      )}
      <FormError message={error} />
      {target && settings ? <JitSettingsForm key={target.id} target={target} settings={settings} onSaved={setSettings} /> : null}
    </section>
  );
}
