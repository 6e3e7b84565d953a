/** Access windows: days of the week and a time range in a named time zone; several may be given. */
import { useMemo } from 'react';
import { weekdays, type Weekday } from '../../../../src/core/access-window.js';
import { emptyWindow, type WindowDraft } from './draft';

const dayNames: Record<Weekday, string> = { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' };

function useTimeZones(current: string[]): string[] {
  return useMemo(() => {
    let all: string[] = [];
    try {
      all = Intl.supportedValuesOf('timeZone');
    } catch {
      all = [];
    }
    return [...new Set(['UTC', ...current, ...all])];
  }, [current.join('|')]);
}

export function WindowsEditor(props: {
  windows: WindowDraft[];
  errors: Record<string, string | undefined>;
  onChange: (next: WindowDraft[]) => void;
  idPrefix?: string;
}) {
  const { windows } = props;
  const prefix = props.idPrefix ?? 'window';
  const zones = useTimeZones(windows.map((w) => w.timeZone));
  const update = (i: number, patch: Partial<WindowDraft>) => props.onChange(windows.map((w, j) => (j === i ? { ...w, ...patch } : w)));
  return (
    <div className="repeat-list">
      {windows.length === 0 ? <p className="hint">No windows: access may run at any time.</p> : null}
      {windows.map((w, i) => {
        const id = `${prefix}-${w.key}`;
        const error = props.errors[`window.${i}`];
        return (
          <fieldset key={w.key} className="repeat-item" aria-describedby={error ? `${id}-error` : undefined} data-testid={`window-${i + 1}`}>
            <legend>Window {i + 1}</legend>
            <div className="window-row">
              <div className="field">
                <label htmlFor={`${id}-tz`}>Time zone</label>
                <select id={`${id}-tz`} value={w.timeZone} onChange={(e) => update(i, { timeZone: e.target.value })}>
                  {zones.map((z) => (
                    <option key={z} value={z}>
                      {z}
                    </option>
                  ))}
                </select>
              </div>
              <div className="field">
                <label htmlFor={`${id}-from`}>From</label>
                <input id={`${id}-from`} type="time" value={w.from} onChange={(e) => update(i, { from: e.target.value })} />
              </div>
              <div className="field">
                <label htmlFor={`${id}-to`}>To</label>
                <input id={`${id}-to`} type="time" value={w.to} onChange={(e) => update(i, { to: e.target.value })} />
              </div>
              <button type="button" className="link-button remove" onClick={() => props.onChange(windows.filter((_, j) => j !== i))} aria-label={`Remove window ${i + 1}`}>
                Remove
              </button>
            </div>
            <div className="inline wrap days" role="group" aria-label={`Days of window ${i + 1}`}>
              {weekdays.map((d) => (
                <label key={d} className="choice">
                  <input
                    type="checkbox"
                    checked={w.days.includes(d)}
                    onChange={(e) => update(i, { days: e.target.checked ? weekdays.filter((x) => x === d || w.days.includes(x)) : w.days.filter((x) => x !== d) })}
                  />
                  {dayNames[d]}
                </label>
              ))}
            </div>
            <p className="hint">A “To” earlier than “From” runs past midnight.</p>
            {error ? (
              <p className="field-error" id={`${id}-error`} role="alert">
                {error}
              </p>
            ) : null}
          </fieldset>
        );
      })}
      <button type="button" onClick={() => props.onChange([...windows, emptyWindow()])} disabled={windows.length >= 20}>
        Add window
      </button>
    </div>
  );
}
