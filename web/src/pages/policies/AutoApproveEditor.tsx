/** Auto-approval rules (simple form): members of some groups, for up to some duration, skip the approvers. */
import { CheckList } from '../../components/CheckList';
import type { Group } from '../../../../src/api/types.js';
import { emptyAuto, type AutoDraft } from './draft';

export function AutoApproveEditor(props: { rules: AutoDraft[]; groups: Group[]; errors: Record<string, string | undefined>; onChange: (next: AutoDraft[]) => void }) {
  const { rules } = props;
  const update = (i: number, patch: Partial<AutoDraft>) => props.onChange(rules.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const groups = props.groups.map((g) => ({ value: g.id, label: g.name }));
  return (
    <div className="repeat-list">
      {rules.length === 0 ? <p className="hint">No rules: every request goes to the approval levels (if any).</p> : null}
      {rules.map((r, i) => {
        const id = `auto-${r.key}`;
        const error = props.errors[`auto.${i}`];
        return (
          <fieldset key={r.key} className="repeat-item" aria-describedby={error ? `${id}-error` : undefined}>
            <legend>Rule {i + 1}</legend>
            <div className="level-row">
              <div className="field">
                <label htmlFor={`${id}-name`}>Name</label>
                <input id={`${id}-name`} value={r.name} placeholder="e.g. short on-call fixes" onChange={(e) => update(i, { name: e.target.value })} />
              </div>
              <div className="field">
                <label htmlFor={`${id}-max`}>Up to (optional)</label>
                <input id={`${id}-max`} value={r.maxDuration} placeholder="e.g. 30m" onChange={(e) => update(i, { maxDuration: e.target.value })} />
              </div>
              <button type="button" className="link-button remove" onClick={() => props.onChange(rules.filter((_, j) => j !== i))} aria-label={`Remove rule ${i + 1}`}>
                Remove
              </button>
            </div>
            <CheckList compact legend="Only for members of (none: anyone)" options={groups} selected={r.groupIds} onChange={(groupIds) => update(i, { groupIds })} empty="No operator groups yet." />
            {error ? (
              <p className="field-error" id={`${id}-error`} role="alert">
                {error}
              </p>
            ) : null}
          </fieldset>
        );
      })}
      <button type="button" onClick={() => props.onChange([...rules, emptyAuto()])} disabled={rules.length >= 10}>
        Add auto-approval rule
      </button>
    </div>
  );
}
