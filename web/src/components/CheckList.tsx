/**
 * Choose several from a list (people, groups, target groups) with checkboxes in a scrolling box,
 * filtered by typing when the list is long. A fieldset with a legend, so each checkbox is read
 * with the question it answers.
 */
import { useId, useState, type ReactNode } from 'react';

export interface CheckOption {
  value: string;
  label: string;
  note?: string | undefined;
}

export function CheckList(props: {
  legend: ReactNode;
  options: CheckOption[];
  selected: string[];
  onChange: (next: string[]) => void;
  error?: string | undefined;
  hint?: ReactNode;
  empty?: string;
  /** Show the filter box from this many options on (default 8). */
  filterFrom?: number;
  compact?: boolean;
}) {
  const id = useId();
  const [filter, setFilter] = useState('');
  const { options, selected } = props;
  const f = filter.trim().toLowerCase();
  const shown = f ? options.filter((o) => o.label.toLowerCase().includes(f) || selected.includes(o.value)) : options;
  const toggle = (v: string, on: boolean) => props.onChange(on ? [...selected.filter((s) => s !== v), v] : selected.filter((s) => s !== v));
  const describedBy = [props.hint ? `${id}-hint` : '', props.error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <fieldset className={`field checklist ${props.compact ? 'compact' : ''}`} aria-describedby={describedBy}>
      <legend>{props.legend}</legend>
      {options.length >= (props.filterFrom ?? 8) ? (
        <input type="search" aria-label="Filter the list" placeholder="Filter…" value={filter} onChange={(e) => setFilter(e.target.value)} />
      ) : null}
      <div className="choice-list">
        {options.length === 0 ? (
          <p className="hint">{props.empty ?? 'Nothing to choose from.'}</p>
        ) : (
          shown.map((o) => (
            <label key={o.value} className="choice">
              <input type="checkbox" checked={selected.includes(o.value)} onChange={(e) => toggle(o.value, e.target.checked)} />
              <span>{o.label}</span>
              {o.note ? <span className="hint"> {o.note}</span> : null}
            </label>
          ))
        )}
      </div>
      {props.hint ? (
        <p className="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {props.error ? (
        <p className="field-error" id={`${id}-error`} role="alert">
          {props.error}
        </p>
      ) : null}
    </fieldset>
  );
}
