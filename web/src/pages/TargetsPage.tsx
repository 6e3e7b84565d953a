/**
 * "Targets": the connected systems, and for those who manage them adding, editing, deleting one
 * and "Test connection" with each check shown. A target whose last test failed is marked broken, with what failed. A link to
 * `…/targets#target-<id>` (from the fleet) scrolls to that target and marks it.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { allPages, call, messageOf } from '../api';
import { CheckResult } from '../components/CheckResult';
import { Dialog } from '../components/Dialog';
import { DialogActions } from '../components/DialogActions';
import { FormError } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { useWorkspace } from '../context';
import { formatDate } from '../format';
import type { CheckReport, Target } from '../../../src/api/types.js';
import { TargetForm } from './TargetForm';
import { useTargetKinds } from './targets/kinds';

type Editing = { mode: 'add' } | { mode: 'edit'; target: Target } | null;

export function TargetsPage() {
  const ws = useWorkspace();
  const { kinds } = useTargetKinds();
  const [targets, setTargets] = useState<Target[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<Editing>(null);
  const [deleting, setDeleting] = useState<Target | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [checks, setChecks] = useState<Record<string, CheckReport | 'running' | { error: string }>>({});
  const manage = ws.can('targets.manage');
  const labelOf = (kind: string) => kinds?.find((k) => k.kind === kind)?.label ?? kind;

  const load = useCallback(() => {
    allPages('listTargets', { params: { tenant: ws.slug } }).then(setTargets, (err: unknown) => setError(messageOf(err)));
  }, [ws.slug]);
  useEffect(load, [load]);

  const linked = /^#target-([0-9a-f-]+)$/.exec(location.hash)?.[1] ?? null;
  useEffect(() => {
    if (linked && targets?.some((t) => t.id === linked)) document.getElementById(`target-${linked}`)?.scrollIntoView({ block: 'center' });
  }, [linked, targets]);

  const test = async (t: Target) => {
    setChecks((c) => ({ ...c, [t.id]: 'running' }));
    try {
      const report = await call('checkTarget', { params: { tenant: ws.slug, targetId: t.id } });
      setChecks((c) => ({ ...c, [t.id]: report }));
      load();
    } catch (err) {
      setChecks((c) => ({ ...c, [t.id]: { error: messageOf(err) } }));
    }
  };

  return (
    <div>
      <PageHeader title="Targets" intro="Systems where Timebox grants access for a time.">
        {manage && !editing ? (
          <button
            type="button"
            className="primary"
            onClick={() => {
              setNotice(null);
              setEditing({ mode: 'add' });
            }}
          >
            Add target
          </button>
        ) : null}
      </PageHeader>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      {editing ? (
        <TargetForm
          key={editing.mode === 'edit' ? editing.target.id : 'add'}
          editing={editing.mode === 'edit' ? editing.target : undefined}
          onCancel={() => setEditing(null)}
          onSaved={(t, check) => {
            setEditing(null);
            if (check) setChecks((c) => ({ ...c, [t.id]: check }));
            setNotice(`${t.name} saved${t.broken ? ', marked broken: its connection test failed' : ''}.`);
            load();
          }}
        />
      ) : null}
      <FormError message={error} />
      {targets === null ? (
        error ? null : <p className="loading">Loading…</p>
      ) : targets.length === 0 ? (
        <p className="empty">No targets yet.</p>
      ) : (
        <table className="table targets-table" aria-label="Targets">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Status</th>
              <th scope="col">Added</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {targets.map((t) => {
              const c = checks[t.id];
              return (
                <tr key={t.id} id={`target-${t.id}`} className={linked === t.id ? 'linked' : undefined} aria-current={linked === t.id ? 'true' : undefined}>
                  <th scope="row">{t.name}</th>
                  <td>{labelOf(t.kind)}</td>
                  <td>
                    {/* The findings once: here, unless this session's test shows them beside. */}
                    <TargetStatus target={t} detailed={!c || c === 'running' || 'error' in c} />
                  </td>
                  <td className="nowrap">{formatDate(t.createdAt)}</td>
                  <td>
                    <div className="row-actions">
                      {manage ? (
                        <>
                          <button type="button" onClick={() => test(t)} disabled={c === 'running'} aria-label={`Test connection to ${t.name}`}>
                            {c === 'running' ? 'Testing…' : 'Test connection'}
                          </button>
                          <button
                            type="button"
                            onClick={() => {
                              setNotice(null);
                              setEditing({ mode: 'edit', target: t });
                            }}
                            aria-label={`Edit ${t.name}`}
                          >
                            Edit
                          </button>
                          <button type="button" className="danger-outline" onClick={() => setDeleting(t)} aria-label={`Delete ${t.name}`}>
                            Delete
                          </button>
                        </>
                      ) : null}
                    </div>
                    {c && c !== 'running' ? (
                      'error' in c ? (
                        <p className="field-error" role="alert">
                          {c.error}
                        </p>
                      ) : (
                        <CheckResult report={c} title={`Connection test of ${t.name}`} />
                      )
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {deleting ? (
        <DeleteTargetDialog
          tenant={ws.slug}
          target={deleting}
          onClose={() => setDeleting(null)}
          onDeleted={() => {
            setDeleting(null);
            setNotice(`${deleting.name} deleted. Past grants and the audit trail keep its name.`);
            load();
          }}
        />
      ) : null}
    </div>
  );
}

function TargetStatus({ target, detailed }: { target: Target; detailed: boolean }) {
  const last = target.lastCheck;
  if (!last) return <span className="badge badge-disabled">Not tested</span>;
  if (last.ok) return <span className="badge badge-active">Working</span>;
  const failed = last.items.filter((i) => !i.ok);
  return (
    <div className="target-broken">
      <span className="badge badge-failed">Broken</span>
      <p className="status-error">
        {detailed ? failed.map((i) => `${i.name}: ${i.message}`).join('; ') || 'The connection test failed.' : `Failed: ${failed.map((i) => i.name).join(', ')}.`}{' '}
        <span className="status-note">(tested {formatDate(last.at)})</span>
      </p>
    </div>
  );
}

function DeleteTargetDialog(props: { tenant: string; target: Target; onClose: () => void; onDeleted: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await call('deleteTarget', { params: { tenant: props.tenant, targetId: props.target.id } });
      props.onDeleted();
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Delete ${props.target.name}?`} onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        <p>
          Nobody can ask for access to {props.target.name} any more. Nothing is changed on the system itself. Past grants and the audit trail keep its name.
        </p>
        <FormError message={error} />
        <DialogActions onCancel={props.onClose} busy={busy} label="Delete target" busyLabel="Deleting…" tone="danger" />
      </form>
    </Dialog>
  );
}
