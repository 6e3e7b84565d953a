/** "Policies": who may request what, when, for how long, with which approvals; creating, editing, removing; simulating. */
import { useCallback, useEffect, useState } from 'react';
import { call, allPages, messageOf } from '../api';
import { Dialog } from '../components/Dialog';
import { FormError } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { useWorkspace } from '../context';
import { formatDuration } from '../format';
import { useDirectory } from '../hooks/useDirectory';
import type { Policy, Target } from '../../../src/api/types.js';
import { PolicyEditor } from './policies/PolicyEditor';
import { describeApproval, describeExtras, describeWindow } from './policies/policy-summary';
import { SimulatePanel } from './policies/SimulatePanel';

export function PoliciesPage() {
  const ws = useWorkspace();
  const directory = useDirectory();
  const [policies, setPolicies] = useState<Policy[] | null>(null);
  const [targets, setTargets] = useState<Target[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Policy | null>(null);
  const [removing, setRemoving] = useState<Policy | null>(null);
  const [simulating, setSimulating] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  const load = useCallback(() => {
    Promise.all([call('listPolicies', { params: { tenant: ws.slug } }), allPages('listTargets', { params: { tenant: ws.slug } })]).then(
      ([p, t]) => {
        setPolicies(p.items);
        setTargets(t);
      },
      (err: unknown) => setError(messageOf(err)),
    );
  }, [ws.slug]);
  useEffect(load, [load]);
  const targetName = (id: string | null) => (id ? (targets.find((t) => t.id === id)?.name ?? 'unknown target') : 'Any target');
  const groupName = (id: string) => directory.groups.find((g) => g.id === id)?.name ?? 'group';
  const requesters = (p: Policy) =>
    [...p.requesterRoles, ...(p.rules?.requesterOperatorIds ?? []).map(directory.emailOf), ...(p.rules?.requesterGroupIds ?? []).map((g) => `${groupName(g)} (group)`)].join(', ');

  return (
    <div>
      <PageHeader title="Policies" intro="Who may request which access, when and for how long, and who approves it.">
        <button type="button" aria-pressed={simulating} onClick={() => setSimulating((s) => !s)}>
          Simulate
        </button>
        {ws.can('policies.manage') && !creating && !editing ? (
          <button
            type="button"
            className="primary"
            onClick={() => {
              setCreating(true);
              setNotice(null);
            }}
          >
            New policy
          </button>
        ) : null}
      </PageHeader>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      {simulating ? <SimulatePanel members={directory.members} targets={targets} /> : null}
      {creating ? (
        <PolicyEditor
          targets={targets}
          directory={directory}
          onCancel={() => setCreating(false)}
          onCreated={(p) => {
            setCreating(false);
            setNotice(`Policy “${p.name}” created.`);
            load();
          }}
        />
      ) : null}
      {editing ? (
        <PolicyEditor
          key={editing.id}
          targets={targets}
          directory={directory}
          editing={editing}
          onCancel={() => setEditing(null)}
          onCreated={(p) => {
            setEditing(null);
            setNotice(`Policy “${p.name}” saved. Requests already waiting keep the rules they were asked under.`);
            load();
          }}
        />
      ) : null}
      {removing ? (
        <RemovePolicyDialog
          policy={removing}
          onClose={() => setRemoving(null)}
          onRemoved={() => {
            setNotice(`Policy “${removing.name}” removed.`);
            setRemoving(null);
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
              <th scope="col">Default / max</th>
              <th scope="col">Approval</th>
              <th scope="col">When</th>
              <th scope="col">Also</th>
              {ws.can('policies.manage') ? (
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {policies.map((p) => (
              <tr key={p.id}>
                <th scope="row">{p.name}</th>
                <td className="nowrap">{targetName(p.targetId)}</td>
                <td className="mono">{p.entitlements?.join(', ') ?? 'any'}</td>
                <td className="wrap-cell">{requesters(p)}</td>
                <td className="nowrap">
                  {formatDuration(p.defaultDurationSeconds)} / {formatDuration(p.maxDurationSeconds)}
                </td>
                <td>{describeApproval(p)}</td>
                <td className="small">{p.rules?.windows.length ? p.rules.windows.map(describeWindow).join('; ') : 'any time'}</td>
                <td>
                  <ul className="tags">
                    {p.reasonMinLength > 0 ? <li className="tag">reason ≥ {p.reasonMinLength}</li> : null}
                    {describeExtras(p).map((x) => (
                      <li key={x} className="tag">
                        {x}
                      </li>
                    ))}
                  </ul>
                </td>
                {ws.can('policies.manage') ? (
                  <td className="nowrap">
                    <button
                      type="button"
                      aria-label={`Edit policy ${p.name}`}
                      onClick={() => {
                        setCreating(false);
                        setNotice(null);
                        setEditing(p);
                      }}
                    >
                      Edit
                    </button>{' '}
                    <button type="button" className="danger-outline" aria-label={`Remove policy ${p.name}`} onClick={() => setRemoving(p)}>
                      Remove
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function RemovePolicyDialog(props: { policy: Policy; onClose: () => void; onRemoved: () => void }) {
  const ws = useWorkspace();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const remove = async () => {
    setBusy(true);
    try {
      await call('deletePolicy', { params: { tenant: ws.slug, policyId: props.policy.id } });
      props.onRemoved();
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Remove policy “${props.policy.name}”?`} onClose={props.onClose}>
      <p>Nobody can request access under it any more. Requests already waiting and grants already running under it go on until they end.</p>
      <FormError message={error} />
      <div className="form-actions">
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button type="button" className="danger" disabled={busy} onClick={() => void remove()}>
          {busy ? 'Removing…' : 'Remove policy'}
        </button>
      </div>
    </Dialog>
  );
}
