/**
 * What the chosen policy adds to a request: a ticket (required, with the expected form), a later
 * start (when scheduling ahead is allowed), and emergency break-glass access (when allowed),
 * with a plain warning of what that sets off.
 */
import { RE2JS } from 're2js';
import { TextField } from '../components/Field';
import type { Policy } from '../../../src/api/types.js';

export interface Extras {
  ticket: string;
  startAt: string;
  emergency: boolean;
}

export const noExtras: Extras = { ticket: '', startAt: '', emergency: false };

/** Client-side checks; the server checks again. `now` is the server's time in ms. */
export function extrasProblems(x: Extras, policy: Policy | undefined, now: number): { ticket?: string; startAt?: string } {
  const rules = policy?.rules;
  const out: { ticket?: string; startAt?: string } = {};
  const ticket = x.ticket.trim();
  if (ticket.length > 128) out.ticket = 'Keep the ticket under 128 characters.';
  else if (rules?.ticket?.required && !ticket) out.ticket = `Policy “${policy!.name}” requires a ticket or change number.`;
  else if (ticket && rules?.ticket?.pattern) {
    let ok = true;
    try {
      // RE2, as on the server: linear time, so no pattern can freeze the page while typing.
      ok = RE2JS.compile(`^(?:${rules.ticket.pattern})$`).matches(ticket);
    } catch {
      ok = true; // the server judges
    }
    if (!ok) out.ticket = `The ticket does not have the expected form (${rules.ticket.pattern}).`;
  }
  if (x.startAt && !x.emergency) {
    const at = new Date(x.startAt).getTime();
    const ahead = rules?.maxScheduleAheadDays ?? 0;
    if (!Number.isFinite(at)) out.startAt = 'Enter a date and time.';
    else if (at < now - 60_000) out.startAt = 'The start is in the past.';
    else if (at > now + ahead * 86_400_000) out.startAt = `At most ${ahead} day(s) ahead under this policy.`;
  }
  return out;
}

export function AskExtras(props: {
  policy: Policy | undefined;
  value: Extras;
  errors: { ticket?: string | undefined; startAt?: string | undefined };
  onChange: (next: Extras, field: 'ticket' | 'startAt' | 'emergency') => void;
}) {
  const { policy, value } = props;
  const rules = policy?.rules;
  const ticketRequired = !!rules?.ticket?.required;
  const set = <K extends keyof Extras>(k: K, v: Extras[K]) => props.onChange({ ...value, [k]: v }, k);
  const canSchedule = (rules?.maxScheduleAheadDays ?? 0) > 0 && !value.emergency;
  return (
    <>
      <div className={canSchedule ? 'grid-2' : undefined}>
        <TextField
          id="ticket"
          label={ticketRequired ? 'Ticket' : 'Ticket (optional)'}
          required={ticketRequired}
          value={value.ticket}
          hint={rules?.ticket?.pattern ? <>Expected form: <span className="mono">{rules.ticket.pattern}</span></> : undefined}
          error={props.errors.ticket}
          onChange={(e) => set('ticket', e.target.value)}
        />
        {canSchedule ? (
          <TextField
            id="start-at"
            label="Start (optional)"
            type="datetime-local"
            value={value.startAt}
            hint={`Empty: as soon as approved. Up to ${rules!.maxScheduleAheadDays} day(s) ahead.`}
            error={props.errors.startAt}
            onChange={(e) => set('startAt', e.target.value)}
          />
        ) : null}
      </div>
      {rules?.breakGlass.allowed ? (
        <div className="field">
          <label className="choice">
            <input type="checkbox" checked={value.emergency} onChange={(e) => set('emergency', e.target.checked)} aria-describedby="emergency-hint" />
            Emergency (break-glass)
          </label>
          {value.emergency ? (
            <p className="warning" id="emergency-hint" role="note">
              <strong>Break-glass skips the approvers and the access windows.</strong> Access starts at once, every admin and approver is
              alerted, and a review of why you needed it is owed afterwards. Use it only when something is broken and cannot wait.
            </p>
          ) : (
            <p className="hint" id="emergency-hint">
              Only for a real emergency: access at once, without approval, with alerts and a review afterwards.
            </p>
          )}
        </div>
      ) : null}
    </>
  );
}
