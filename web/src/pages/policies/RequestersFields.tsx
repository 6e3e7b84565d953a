/** Who may request under the policy: by role, by person, or by operator group (any one suffices). */
import { roles } from '../../../../src/core/roles.js';
import { CheckList } from '../../components/CheckList';
import type { Group, Member, Role } from '../../../../src/api/types.js';

const allRoles: readonly Role[] = roles;

export function RequestersFields(props: {
  roles: Role[];
  operatorIds: string[];
  groupIds: string[];
  members: Member[];
  groups: Group[];
  error?: string | undefined;
  onChange: (patch: { roles?: Role[]; operatorIds?: string[]; groupIds?: string[] }) => void;
}) {
  return (
    <div>
      <div className="grid-3">
        <CheckList
          compact
          legend="Roles"
          options={allRoles.map((r) => ({ value: r, label: r }))}
          selected={props.roles}
          onChange={(v) => props.onChange({ roles: v as Role[] })}
          filterFrom={99}
        />
        <CheckList
          compact
          legend="People"
          options={props.members.filter((m) => !m.operator.disabled).map((m) => ({ value: m.operator.id, label: m.operator.email }))}
          selected={props.operatorIds}
          onChange={(v) => props.onChange({ operatorIds: v })}
          empty="No members to choose from."
        />
        <CheckList
          compact
          legend="Groups"
          options={props.groups.map((g) => ({ value: g.id, label: g.name }))}
          selected={props.groupIds}
          onChange={(v) => props.onChange({ groupIds: v })}
          empty="No operator groups yet (Settings → Groups)."
        />
      </div>
      {props.error ? (
        <p className="field-error" id="policy-requesters-error" role="alert">
          {props.error}
        </p>
      ) : null}
    </div>
  );
}
