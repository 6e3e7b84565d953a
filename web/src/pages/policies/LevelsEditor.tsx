/**
 * Approval levels, in order: each names its approvers (people and operator groups) and how many
 * of them must approve (quorum). The requester never approves their own request.
 */
import { CheckList } from '../../components/CheckList';
import type { Group, Member } from '../../../../src/api/types.js';
import { emptyLevel, type LevelDraft } from './draft';

export function LevelsEditor(props: {
  levels: LevelDraft[];
  members: Member[];
  groups: Group[];
  errors: Record<string, string | undefined>;
  onChange: (next: LevelDraft[]) => void;
}) {
  const { levels } = props;
  const update = (i: number, patch: Partial<LevelDraft>) => props.onChange(levels.map((l, j) => (j === i ? { ...l, ...patch } : l)));
  const people = props.members.filter((m) => !m.operator.disabled).map((m) => ({ value: m.operator.id, label: m.operator.email, note: m.roles.join(', ') }));
  const groups = props.groups.map((g) => ({ value: g.id, label: g.name, note: `${g.memberIds.length} member${g.memberIds.length === 1 ? '' : 's'}` }));
  return (
    <div className="repeat-list">
      {levels.length === 0 ? <p className="hint">No levels: a request this policy covers is approved at once.</p> : null}
      {levels.map((l, i) => {
        const id = `level-${l.key}`;
        const error = props.errors[`level.${i}`];
        return (
          <fieldset key={l.key} className="repeat-item" aria-describedby={error ? `${id}-error` : undefined} data-testid={`level-${i + 1}`}>
            <legend>Level {i + 1}</legend>
            <div className="level-row">
              <div className="field">
                <label htmlFor={`${id}-name`}>Name (optional)</label>
                <input id={`${id}-name`} value={l.name} placeholder={i === 0 ? 'e.g. team leads' : 'e.g. security'} onChange={(e) => update(i, { name: e.target.value })} />
              </div>
              <div className="field quorum">
                <label htmlFor={`${id}-quorum`}>Quorum</label>
                <input id={`${id}-quorum`} type="number" min={1} max={50} value={l.quorum} onChange={(e) => update(i, { quorum: e.target.value })} aria-describedby={`${id}-quorum-hint`} />
              </div>
              <p className="hint" id={`${id}-quorum-hint`}>
                Approvals needed at this level.
              </p>
              <button type="button" className="link-button remove" onClick={() => props.onChange(levels.filter((_, j) => j !== i))} aria-label={`Remove level ${i + 1}`}>
                Remove
              </button>
            </div>
            <div className="grid-2">
              <CheckList compact legend={`Approvers of level ${i + 1}`} options={people} selected={l.approverIds} onChange={(approverIds) => update(i, { approverIds })} empty="No members to choose from." />
              <CheckList compact legend={`Groups of level ${i + 1}`} options={groups} selected={l.groupIds} onChange={(groupIds) => update(i, { groupIds })} empty="No operator groups yet (Settings → Groups)." />
            </div>
            {error ? (
              <p className="field-error" id={`${id}-error`} role="alert">
                {error}
              </p>
            ) : null}
          </fieldset>
        );
      })}
      <button type="button" onClick={() => props.onChange([...levels, emptyLevel()])} disabled={levels.length >= 5}>
        Add approval level
      </button>
    </div>
  );
}
