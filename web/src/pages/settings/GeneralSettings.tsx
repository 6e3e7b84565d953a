/** Settings → General: who I am here, my session, and the tenant's members (for those who manage them). */
import { useEffect, useState } from 'react';
import { allPages, messageOf, session } from '../../api';
import { FormError } from '../../components/Field';
import { useWorkspace } from '../../context';
import { formatDate } from '../../format';
import type { Member } from '../../../../src/api/types.js';

export function GeneralSettings() {
  const ws = useWorkspace();
  const canSeeMembers = ws.can('members.manage') || ws.can('audit.read');
  const [members, setMembers] = useState<Member[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!canSeeMembers) return;
    allPages('listMembers', { params: { tenant: ws.slug } }, 1000).then(setMembers, (err: unknown) => setError(messageOf(err)));
  }, [ws.slug, canSeeMembers]);

  return (
    <div>
      <div className="grid-2">
        <section className="card" aria-labelledby="me-title">
          <h2 id="me-title">Your account</h2>
          <dl className="facts">
            <dt>Email</dt>
            <dd>{ws.me.email}</dd>
            <dt>Name</dt>
            <dd>{ws.me.displayName}</dd>
            <dt>Roles here</dt>
            <dd>{ws.tenant.roles.join(', ') || 'none'}</dd>
            {ws.me.platformAdmin ? (
              <>
                <dt>Platform</dt>
                <dd>administrator of every tenant</dd>
              </>
            ) : null}
            <dt>Session ends</dt>
            <dd>{formatDate(session.expiresAt())}</dd>
          </dl>
        </section>
        <section className="card" aria-labelledby="api-title">
          <h2 id="api-title">API</h2>
          <p>
            Everything here is available through the HTTP API; its description is at{' '}
            <a href="/api/openapi.json" className="mono">
              /api/openapi.json
            </a>
            . Create API tokens with the <span className="mono">timebox</span> command.
          </p>
        </section>
      </div>
      {canSeeMembers ? (
        <section aria-labelledby="members-title">
          <h2 id="members-title">Members</h2>
          <FormError message={error} />
          {members === null ? (
            error ? null : <p className="loading">Loading…</p>
          ) : (
            <table className="table" aria-labelledby="members-title">
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Name</th>
                  <th scope="col">Roles</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {members.map((m) => (
                  <tr key={m.operator.id}>
                    <th scope="row">{m.operator.email}</th>
                    <td>{m.operator.displayName}</td>
                    <td>{m.roles.join(', ')}</td>
                    <td>{m.operator.disabled ? 'disabled' : 'active'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ) : null}
    </div>
  );
}
