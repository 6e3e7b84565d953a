/**
 * "Select JIT policy": the policy the server would choose is shown; the pencil lets the person
 * pick another policy that also covers the ask.
 */
import { useState } from 'react';
import { formatDuration } from '../format';
import type { Policy } from '../../../src/api/types.js';

export function PolicyPicker(props: {
  id: string;
  fitting: Policy[];
  chosen: Policy | undefined;
  onChange: (policyId: string) => void;
  error?: string | undefined;
  emptyText: string;
}) {
  const [editing, setEditing] = useState(false);
  const { id, chosen, fitting } = props;
  const errorId = `${id}-error`;
  return (
    <div className="field policy-picker" role="group" aria-labelledby={`${id}-label`} aria-describedby={props.error ? errorId : undefined}>
      <span className="label" id={`${id}-label`}>
        JIT policy
      </span>
      {!chosen ? (
        <p className="hint">{props.emptyText}</p>
      ) : editing ? (
        <select
          id={id}
          aria-label="JIT policy"
          value={chosen.id}
          autoFocus
          onChange={(e) => props.onChange(e.target.value)}
          onBlur={() => setEditing(false)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' || e.key === 'Escape') {
              e.preventDefault();
              setEditing(false);
            }
          }}
        >
          {fitting.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name} (default {formatDuration(p.defaultDurationSeconds)}, max {formatDuration(p.maxDurationSeconds)})
            </option>
          ))}
        </select>
      ) : (
        <div className="policy-box">
          <span>
            <strong data-testid="policy-name">{chosen.name}</strong> · default {formatDuration(chosen.defaultDurationSeconds)}, max{' '}
            {formatDuration(chosen.maxDurationSeconds)}
            {chosen.reasonMinLength > 0 ? `, reason ≥ ${chosen.reasonMinLength} characters` : ''}
            {chosen.rules?.approvalLevels.length
              ? `, approval: ${chosen.rules.approvalLevels.length} level${chosen.rules.approvalLevels.length === 1 ? '' : 's'}`
              : ', no approval needed'}
          </span>
          <button
            type="button"
            className="icon-button"
            aria-label="Change policy"
            title={fitting.length > 1 ? 'Change policy' : 'No other policy covers this request'}
            disabled={fitting.length < 2}
            onClick={() => setEditing(true)}
          >
            ✎
          </button>
        </div>
      )}
      {props.error ? (
        <p className="field-error" id={errorId} role="alert">
          {props.error}
        </p>
      ) : null}
    </div>
  );
}
