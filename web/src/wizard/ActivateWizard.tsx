/**
 * "Activate JIT account": first the kind of account (the target kinds this tenant has), then the
 * form; on success the password, certificate or token is revealed once.
 */
import { useEffect, useState } from 'react';
import { call, allPages, messageOf } from '../api';
import { FormError } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { useWorkspace } from '../context';
import { formatDate } from '../format';
import { Link, navigate } from '../router';
import type { Grant, Group, JitAccount, Policy, Target } from '../../../src/api/types.js';
import type { TargetKindInfo } from '../pages/targets/json-schema';
import { loadTargetKinds } from '../pages/targets/kinds';
import { ActivateForm } from './ActivateForm';
import { CredentialDialog } from './CredentialDialog';
import { secretNoun } from './credential-kinds';

interface Data {
  targets: Target[];
  policies: Policy[];
  mine: JitAccount[];
  myGroups: string[];
  /** What the server says of each kind (label, name rules); empty if it could not be asked. */
  kinds: TargetKindInfo[];
}

export function ActivateWizard() {
  const ws = useWorkspace();
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [kind, setKind] = useState<string | null>(null);
  const [created, setCreated] = useState<Grant | null>(null);
  const back = `/t/${ws.slug}/jit-accounts`;

  useEffect(() => {
    Promise.all([
      allPages('listTargets', { params: { tenant: ws.slug } }),
      call('listPolicies', { params: { tenant: ws.slug } }),
      call('listJitAccounts', { params: { tenant: ws.slug }, query: { mine: 'true', limit: 200 } }),
      call('listGroups', { params: { tenant: ws.slug } }).then((r) => r.items, () => [] as Group[]),
      // Without them the wizard still works: kinds are shown by their names, names checked by the server.
      loadTargetKinds().catch(() => [] as TargetKindInfo[]),
    ]).then(
      ([targets, policies, mine, groups, kinds]) =>
        setData({
          targets,
          policies: policies.items,
          mine: mine.items,
          myGroups: groups.filter((g) => g.memberIds.includes(ws.me.id)).map((g) => g.id),
          kinds,
        }),
      (err: unknown) => setError(messageOf(err)),
    );
  }, [ws.slug]);

  const kinds = [...new Set(data?.targets.map((t) => t.kind) ?? [])].sort();
  const infoOf = (k: string) => data?.kinds.find((i) => i.kind === k);
  const labelOf = (k: string) => infoOf(k)?.label ?? k;

  return (
    <div className="wizard">
      <PageHeader title="Activate JIT account" intro="A personal account on a target, enabled for a limited time with a reason.">
        <Link to={back}>Cancel</Link>
      </PageHeader>
      <FormError message={error} />
      {!data ? (
        error ? null : <p className="loading">Loading…</p>
      ) : kinds.length === 0 ? (
        <p>
          No targets are connected yet.{' '}
          {ws.can('targets.manage') ? <Link to={`/t/${ws.slug}/targets`}>Add a target</Link> : 'Ask an admin to add one.'}
        </p>
      ) : created && created.state !== 'active' && created.state !== 'activating' ? null : !kind ? (
        <fieldset className="kind-step">
          <legend>Account type</legend>
          <div className="kind-choices">
            {kinds.map((k) => (
              <button key={k} type="button" className="kind-choice" onClick={() => setKind(k)}>
                {labelOf(k)}
                <span className="hint">
                  {data.targets.filter((t) => t.kind === k).length} target(s)
                </span>
              </button>
            ))}
          </div>
        </fieldset>
      ) : (
        <ActivateForm
          kind={kind}
          kindInfo={infoOf(kind)}
          targets={data.targets.filter((t) => t.kind === kind)}
          policies={data.policies}
          mine={data.mine}
          myGroups={data.myGroups}
          onBack={() => setKind(null)}
          onCreated={setCreated}
        />
      )}
      {created && (created.state === 'requested' || created.state === 'approved') ? (
        <div className="card notice" role="status">
          {created.state === 'requested'
            ? 'Your request was sent and waits for approval.'
            : `Your request is approved; access starts ${formatDate(created.requestedStartAt ?? created.startsAt)}.`}{' '}
          Follow it under <Link to={`/t/${ws.slug}/requests`}>Requests</Link> or <Link to={back}>Just-in-time accounts</Link>; the {secretNoun(kind ?? undefined)}
          can be revealed there once the access is active.
        </div>
      ) : created ? (
        <CredentialDialog tenant={ws.slug} grant={created} kind={kind ?? undefined} onClose={() => navigate(back)} />
      ) : null}
    </div>
  );
}
