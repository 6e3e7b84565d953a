/**
 * One break-glass grant owing a review: who took access, to what, when and why; and the form to
 * record the verdict. The server decides who may review (never the person who used break-glass)
 * and its answer is shown in the card.
 */
import { useId, useRef, useState, type FormEvent } from 'react';
import { call } from '../../api';
import { FormError, TextArea } from '../../components/Field';
import { formatDate, formatDuration } from '../../format';
import { focusFirstInvalid, placeError, type FieldErrors } from '../../forms';
import type { Grant, Review } from '../../../../src/api/types.js';

type Verdict = 'justified' | 'not_justified';
type Field = 'verdict' | 'notes';

export function ReviewCard(props: { tenant: string; review: Review; grant: Grant | undefined; mine: boolean; onRecorded: (message: string) => void }) {
  const { review: r, grant: g } = props;
  const id = useId();
  const formRef = useRef<HTMLFormElement>(null);
  const [verdict, setVerdict] = useState<Verdict | null>(null);
  const [notes, setNotes] = useState('');
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [busy, setBusy] = useState(false);
  const titleId = `review-${r.grantId}`;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found: FieldErrors<Field> = {
      verdict: verdict ? undefined : 'Say whether the emergency access was justified.',
      notes: notes.trim() ? undefined : 'Write what you found: it goes into the audit log.',
    };
    setErrors(found);
    if (found.verdict || found.notes) return focusFirstInvalid(formRef.current);
    setBusy(true);
    try {
      await call('submitReview', { params: { tenant: props.tenant, grantId: r.grantId }, body: { verdict: verdict ?? 'not_justified', notes: notes.trim() } });
      props.onRecorded(`Review recorded: the break-glass access of ${r.requesterEmail} was ${verdict === 'justified' ? 'justified' : 'not justified'}.`);
    } catch (err) {
      setErrors(placeError(err, { 'body.verdict': 'verdict', 'body.notes': 'notes' }));
      focusFirstInvalid(formRef.current);
      setBusy(false);
    }
  };

  return (
    <article className="card approval review" aria-labelledby={titleId} data-grant={r.grantId}>
      <header className="approval-head">
        <h2 id={titleId}>
          <span className="kind-tag kind-ext">Break-glass</span> {r.requesterEmail}
          {g ? ` on ${g.targetName}` : ''}
        </h2>
        <p className="approval-progress">Review owed since {formatDate(r.owedSince)}</p>
      </header>
      <dl className="facts approval-facts">
        <dt>Who</dt>
        <dd>
          {r.requesterEmail}
          {props.mine ? ' (you)' : ''}
        </dd>
        <dt>When</dt>
        <dd>{g?.startsAt ? `${formatDate(g.startsAt)}${g.durationSeconds ? ` for ${formatDuration(g.durationSeconds)}` : ''}` : formatDate(r.owedSince)}</dd>
        {g ? (
          <>
            <dt>Groups / roles</dt>
            <dd className="mono">{g.entitlements.join(', ')}</dd>
            <dt>Now</dt>
            <dd>{g.state === 'active' && g.expiresAt ? `active until ${formatDate(g.expiresAt)}` : g.state.replace('_', ' ')}</dd>
          </>
        ) : null}
        <dt>Reason</dt>
        <dd className="reason">{r.reason}</dd>
      </dl>
      <form ref={formRef} onSubmit={submit} noValidate aria-label={`Review of ${r.requesterEmail}`}>
        <FormError message={errors.form} />
        <fieldset className="field" aria-describedby={errors.verdict ? `${id}-verdict-error` : undefined}>
          <legend>Verdict</legend>
          <div className="inline wrap">
            {(['justified', 'not_justified'] as const).map((v) => (
              <label key={v} className="choice">
                <input
                  type="radio"
                  name={`${id}-verdict`}
                  value={v}
                  checked={verdict === v}
                  aria-invalid={errors.verdict ? true : undefined}
                  onChange={() => {
                    setVerdict(v);
                    setErrors((x) => ({ ...x, verdict: undefined, form: undefined }));
                  }}
                />{' '}
                {v === 'justified' ? 'Justified' : 'Not justified'}
              </label>
            ))}
          </div>
          {errors.verdict ? (
            <p className="field-error" id={`${id}-verdict-error`} role="alert">
              {errors.verdict}
            </p>
          ) : null}
        </fieldset>
        <TextArea
          id={`${id}-notes`}
          label="What you found"
          rows={3}
          value={notes}
          hint={props.mine ? 'You used this access: another approver reviews it.' : 'Goes into the audit log with your verdict.'}
          error={errors.notes}
          onChange={(e) => {
            setNotes(e.target.value);
            setErrors((x) => ({ ...x, notes: undefined, form: undefined }));
          }}
        />
        <div className="approval-actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Recording…' : 'Record review'}
          </button>
        </div>
      </form>
    </article>
  );
}
