/**
 * "Targets": the connected systems, adding one, and "Test connection" with each check shown. A
 * link to `…/targets#target-<id>` (from the fleet) scrolls to that target and marks it.
 */
import { useCallback, useEffect, useState } from 'react';
import { call, allPages, messageOf } from '../api';
import { CheckResult } from '../components/CheckResult';
import { FormError } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { useWorkspace } from '../context';
import { formatDate } from '../format';
import { kindLabel } from '../rules';
import type { CheckReport, Target } from '../../../src/api/types.js';
import { TargetForm } from './TargetForm';
import { kindLabelOf } from './targets/target-kinds';

const labelOf = (kind: string) => kindLabelOf(kind) ?? kindLabel(kind);

export function TargetsPage() {
  const ws = useWorkspace();
  const [targets, setTargets] = useState<Target[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [checks, setChecks] = useState<Record<string, CheckReport | 'running' | { error: string }>>({});

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
    } catch (err) {
      setChecks((c) => ({ ...c, [t.id]: { error: messageOf(err) } }));
    }
  };

  return (
    <div>
      <PageHeader title="Targets" intro="Systems where Timebox creates and disables JIT accounts.">
        {ws.can('targets.manage') && !adding ? (
          <button type="button" className="primary" onClick={() => setAdding(true)}>
            Add target
          </button>
        ) : null}
      </PageHeader>
      {adding ? (
        <TargetForm
          onCancel={() => setAdding(false)}
          onCreated={(t, check) => {
            setAdding(false);
            setChecks((c) => ({ ...c, [t.id]: check }));
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
        <table className="table" aria-label="Targets">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Added</th>
              <th scope="col">Connection</th>
            </tr>
          </thead>
          <tbody>
            {targets.map((t) => {
              const c = checks[t.id];
              return (
                <tr key={t.id} id={`target-${t.id}`} className={linked === t.id ? 'linked' : undefined} aria-current={linked === t.id ? 'true' : undefined}>
                  <th scope="row">{t.name}</th>
                  <td>{labelOf(t.kind)}</td>
                  <td className="nowrap">{formatDate(t.createdAt)}</td>
                  <td>
                    <button type="button" onClick={() => test(t)} disabled={c === 'running'} aria-label={`Test connection to ${t.name}`}>
                      {c === 'running' ? 'Testing…' : 'Test connection'}
                    </button>
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
    </div>
  );
}
