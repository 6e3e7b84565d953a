/** "Policies": who may request what, for how long; and creating one. */
import { useCallback, useEffect, useState } from 'react';
import { allPages, api, messageOf, tenantPath } from '../api';
import { FormError } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { useWorkspace } from '../context';
import { formatDuration } from '../format';
import type { Policy, Target } from '../types';
import { PolicyForm } from './PolicyForm';

export function PoliciesPage() {
  const ws = useWorkspace();
  const [policies, setPolicies] = useState<Policy[] | null>(null);
  const [targets, setTargets] = useState<Target[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  const load = useCallback(() => {
    Promise.all([api.get<{ items: Policy[] }>(tenantPath(ws.slug, '/policies')), allPages<Target>(tenantPath(ws.slug, '/targets'), {})]).then(
      ([p, t]) => {
        setPolicies(p.items);
        setTargets(t);
      },
      (err: unknown) => setError(messageOf(err)),
    );
  }, [ws.slug]);
  useEffect(load, [load]);
  const targetName = (id: string | null) => (id ? (targets.find((t) => t.id === id)?.name ?? 'unknown target') : 'Any target');

  return (
    <div>
      <PageHeader title="Policies" intro="Who may request which access, for how long. A request is approved when a policy covers it.">
        {ws.can('policies.manage') && !creating ? (
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            New policy
          </button>
        ) : null}
      </PageHeader>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      {creating ? (
        <PolicyForm
          targets={targets}
          onCancel={() => setCreating(false)}
          onCreated={(p) => {
            setCreating(false);
            setNotice(`Policy “${p.name}” created.`);
            load();
          }}
        />
      ) : null}
      <FormError message={error} />
      {policies === null ? (
        error ? null : <p className="loading">Loading…</p>
      ) : policies.length === 0 ? (
        <p className="empty">No policies yet: nobody can request access until one exists.</p>
      ) : (
        <table className="table" aria-label="Policies">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Target</th>
              <th scope="col">Groups / roles</th>
              <th scope="col">For</th>
              <th scope="col">Default</th>
              <th scope="col">Maximum</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {policies.map((p) => (
              <tr key={p.id}>
                <th scope="row">{p.name}</th>
                <td>{targetName(p.targetId)}</td>
                <td className="mono">{p.entitlements?.join(', ') ?? 'any'}</td>
                <td>{p.requesterRoles.join(', ')}</td>
                <td>{formatDuration(p.defaultDurationSeconds)}</td>
                <td>{formatDuration(p.maxDurationSeconds)}</td>
                <td>{p.reasonMinLength > 0 ? `≥ ${p.reasonMinLength} characters` : 'required'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
