/** The JIT settings of one target: enabled, allowed groups (searched on the target), creator groups. */
import type { JitSettings } from '../../../../src/api/types.js';
import { useState, type FormEvent } from 'react';
import { call, messageOf } from '../../api';
import { CheckList } from '../../components/CheckList';
import { FormError } from '../../components/Field';
import { useWorkspace } from '../../context';
import { formatDate } from '../../format';
import { useDirectory } from '../../hooks/useDirectory';
import type { Target } from '../../../../src/api/types.js';
import { EntitlementPicker } from '../../wizard/EntitlementPicker';

export type JitSettingsView = JitSettings;

export function JitSettingsForm(props: { target: Target; settings: JitSettingsView; onSaved: (s: JitSettingsView) => void }) {
  const ws = useWorkspace();
  const dir = useDirectory();
  const { target, settings } = props;
  const [enabled, setEnabled] = useState(settings.enabled);
  const [allowed, setAllowed] = useState(settings.allowedGroups);
  const [creators, setCreators] = useState(settings.creatorGroupIds);
  const [errors, setErrors] = useState<{ form?: string; groups?: string }>({});
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setNotice(null);
    setErrors({});
    try {
      const saved = await call('setJitSettings', { params: { tenant: ws.slug, targetId: target.id }, body: { enabled, allowedGroups: allowed, creatorGroupIds: creators } });
      props.onSaved(saved);
      setNotice(`Saved: JIT accounts on ${target.name} are ${saved.enabled ? 'on' : 'off'}.`);
    } catch (err) {
      const message = messageOf(err);
      setErrors(/group/i.test(message) && !/operator group/i.test(message) ? { groups: message } : { form: message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={save} noValidate aria-label={`JIT settings of ${target.name}`}>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <FormError message={errors.form} />
      <p className="hint">
        {settings.configured
          ? `Last saved ${formatDate(settings.updatedAt)}${settings.updatedBy ? ` by ${dir.emailOf(settings.updatedBy)}` : ''}.`
          : 'Not configured yet: requests on this target are governed by policies only.'}
      </p>
      <label className="choice switch-line">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> JIT accounts may be created and enabled on {target.name}
      </label>
      {settings.configured && !enabled ? <p className="warning">Saved as off, every request for a JIT account on this target is refused.</p> : null}
      <div className="grid-2">
        <EntitlementPicker
          tenant={ws.slug}
          targetId={target.id}
          selected={allowed}
          onChange={(next) => {
            setAllowed(next);
            setErrors({});
          }}
          error={errors.groups}
          idPrefix="jit-group"
          legend="Privileged groups JIT accounts may get"
          searchLabel="Search the target’s groups"
        />
        <CheckList
          legend="Operator groups who may also create JIT accounts"
          hint="Owners, admins and approvers always may."
          options={dir.groups.map((g) => ({ value: g.id, label: g.name, note: `${g.memberIds.length} member${g.memberIds.length === 1 ? '' : 's'}` }))}
          selected={creators}
          onChange={setCreators}
          empty="No operator groups yet (Settings → Groups)."
        />
      </div>
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save JIT settings'}
        </button>
      </div>
    </form>
  );
}
