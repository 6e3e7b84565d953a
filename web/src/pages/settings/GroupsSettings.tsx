/**
 * Settings → Groups: operator groups that policies name as requesters or approvers. Admins create
 * them and add or remove members; others see them.
 */
import { useState, type FormEvent } from 'react';
import { call, messageOf } from '../../api';
import { CheckList } from '../../components/CheckList';
import { FormError, TextField } from '../../components/Field';
import { useWorkspace } from '../../context';
import { placeError, type FieldErrors } from '../../forms';
import { useDirectory } from '../../hooks/useDirectory';
import type { Group } from '../../../../src/api/types.js';
import { GroupCard } from './GroupCard';

export function GroupsSettings() {
  const ws = useWorkspace();
  const dir = useDirectory();
  const manage = ws.can('members.manage');
  const [name, setName] = useState('');
  const [memberIds, setMemberIds] = useState<string[]>([]);
  const [errors, setErrors] = useState<FieldErrors<'name' | 'members'>>({});
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const people = dir.members.filter((m) => !m.operator.disabled).map((m) => ({ value: m.operator.id, label: m.operator.email }));

  const create = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return setErrors({ name: 'Give the group a name.' });
    setBusy(true);
    try {
      const g = await call('createGroup', { params: { tenant: ws.slug }, body: { name: name.trim(), memberIds } });
      setName('');
      setMemberIds([]);
      setErrors({});
      setNotice(`Group “${g.name}” created with ${g.memberIds.length} member${g.memberIds.length === 1 ? '' : 's'}.`);
      dir.reload();
    } catch (err) {
      setErrors(placeError(err, { 'body.name': 'name', 'body.memberIds': 'members' }, [[/named|already exists/i, 'name'], [/members/i, 'members']]));
    } finally {
      setBusy(false);
    }
  };

  const setMember = async (group: Group, operatorId: string, member: boolean) => {
    setNotice(null);
    const params = { tenant: ws.slug, groupId: group.id, operatorId };
    try {
      await call(member ? 'addGroupMember' : 'removeGroupMember', { params });
      setNotice(`${dir.emailOf(operatorId)} ${member ? 'added to' : 'removed from'} “${group.name}”.`);
      dir.reload();
    } catch (err) {
      setNotice(null);
      setErrors({ form: messageOf(err) });
    }
  };

  return (
    <div>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <FormError message={errors.form ?? dir.error} />
      <div className={manage ? 'grid-2 settings-columns' : undefined}>
        <section aria-labelledby="groups-title">
          <h2 id="groups-title">Groups</h2>
          {!dir.loaded ? (
            <p className="loading">Loading…</p>
          ) : dir.groups.length === 0 ? (
            <p className="empty">No groups yet.</p>
          ) : (
            <ul className="group-list" aria-labelledby="groups-title">
              {dir.groups.map((g) => (
                <GroupCard key={g.id} group={g} members={dir.members} manage={manage} emailOf={dir.emailOf} onSetMember={(id, on) => setMember(g, id, on)} />
              ))}
            </ul>
          )}
        </section>
        {manage ? (
          <form className="card form" onSubmit={create} noValidate aria-labelledby="new-group-title">
            <h2 id="new-group-title">New group</h2>
            <TextField
              id="group-name"
              label="Group name"
              value={name}
              error={errors.name}
              onChange={(e) => {
                setName(e.target.value);
                setErrors({});
              }}
            />
            <CheckList legend="Members" options={people} selected={memberIds} onChange={setMemberIds} error={errors.members} empty="No members to add." />
            <div className="form-actions">
              <button type="submit" className="primary" disabled={busy}>
                Create group
              </button>
            </div>
          </form>
        ) : null}
      </div>
    </div>
  );
}
