/**
 * Settings → Members, invitations not accepted yet: a link is a way into the tenant for 72
 * hours, so whoever manages members sees each one and can withdraw it (its link stops working).
 */
import { useCallback, useEffect, useState } from 'react';
import type { PendingInvitation } from '../../../../src/api/types.js';
import { call, messageOf } from '../../api';
import { formatDate } from '../../format';

export function PendingInvitations(props: { tenant: string; refresh: number; onNotice: (message: string) => void; onError: (message: string) => void }) {
  const { tenant, refresh, onNotice, onError } = props;
  const [items, setItems] = useState<PendingInvitation[]>([]);
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => {
    call('listInvitations', { params: { tenant } }).then((r) => setItems(r.items), (err: unknown) => onError(messageOf(err)));
  }, [tenant, onError]);
  useEffect(load, [load, refresh]);

  const withdraw = async (i: PendingInvitation) => {
    setBusy(true);
    try {
      await call('withdrawInvitation', { params: { tenant, invitationId: i.id } });
      onNotice(`The invitation of ${i.email} is withdrawn: its link no longer works.`);
      load();
    } catch (err) {
      onError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  if (items.length === 0) return null;
  return (
    <section className="card" aria-labelledby="invitations-title">
      <h2 id="invitations-title">Invited, not joined yet</h2>
      <table className="table" aria-label="Pending invitations">
        <thead>
          <tr>
            <th>Email</th>
            <th>Roles</th>
            <th>Link works until</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {items.map((i) => (
            <tr key={i.id} aria-label={`Invitation ${i.email}`}>
              <td>{i.email}</td>
              <td>{i.roles.join(', ')}</td>
              <td>{formatDate(i.expiresAt)}</td>
              <td>
                <button type="button" className="danger" disabled={busy} onClick={() => void withdraw(i)}>
                  Withdraw
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
