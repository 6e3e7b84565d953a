/** One operator group: its members (each removable) and adding another. */
import { useId, useState } from 'react';
import type { Group, Member } from '../../../../src/api/types.js';

export function GroupCard(props: {
  group: Group;
  members: Member[];
  manage: boolean;
  emailOf: (id: string) => string;
  onSetMember: (operatorId: string, member: boolean) => Promise<void>;
}) {
  const { group } = props;
  const selectId = useId();
  const [adding, setAdding] = useState('');
  const outside = props.members.filter((m) => !m.operator.disabled && !group.memberIds.includes(m.operator.id));
  return (
    <li className="card group-card" aria-label={`Group ${group.name}`}>
      <h3>{group.name}</h3>
      {group.memberIds.length === 0 ? (
        <p className="hint">No members.</p>
      ) : (
        <ul className="member-chips" aria-label={`Members of ${group.name}`}>
          {group.memberIds.map((id) => (
            <li key={id} className="chip-static">
              {props.emailOf(id)}
              {props.manage ? (
                <button type="button" className="chip-remove" aria-label={`Remove ${props.emailOf(id)} from ${group.name}`} onClick={() => void props.onSetMember(id, false)}>
                  ×
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {props.manage && outside.length ? (
        <form
          className="inline add-member"
          onSubmit={(e) => {
            e.preventDefault();
            if (adding) void props.onSetMember(adding, true).then(() => setAdding(''));
          }}
        >
          <label htmlFor={selectId} className="sr-only">
            Add a member to {group.name}
          </label>
          <select id={selectId} value={adding} onChange={(e) => setAdding(e.target.value)}>
            <option value="">Add a member…</option>
            {outside.map((m) => (
              <option key={m.operator.id} value={m.operator.id}>
                {m.operator.email}
              </option>
            ))}
          </select>
          <button type="submit" disabled={!adding}>
            Add
          </button>
        </form>
      ) : null}
    </li>
  );
}
