/** "What would happen if this person asked for this, then?": the server's answer, nothing written. */
import { useState, type FormEvent } from 'react';
import { call } from '../../api';
import { FormError, SelectField, TextField } from '../../components/Field';
import { useWorkspace } from '../../context';
import { localInputToIso, parseDuration } from '../../format';
import { placeError, type FieldErrors } from '../../forms';
import type { Member, Simulation, Target } from '../../../../src/api/types.js';

type Field = 'person' | 'target' | 'entitlements' | 'duration' | 'at';
const paths: Partial<Record<string, Field>> = {
  'body.operatorEmail': 'person',
  'body.targetId': 'target',
  'body.entitlements': 'entitlements',
  'body.durationSeconds': 'duration',
  'body.at': 'at',
};

const routeText: Record<string, string> = {
  approval: 'Waits for approval',
  auto: 'Approved automatically',
  break_glass: 'Granted at once as break-glass',
  refused: 'Refused',
};

export function SimulatePanel(props: { members: Member[]; targets: Target[] }) {
  const ws = useWorkspace();
  // Without the member list (requesters, approvers) a person simulates their own asks, which is
  // all the server lets a requester simulate.
  const people = props.members.length ? props.members.map((m) => m.operator.email) : [ws.me.email];
  const [v, setV] = useState({ person: props.members.length ? '' : ws.me.email, target: '', entitlements: '', duration: '', at: '', ticket: '', emergency: false });
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [result, setResult] = useState<Simulation | null>(null);
  const [busy, setBusy] = useState(false);
  const bind = (k: 'person' | 'target' | 'entitlements' | 'duration' | 'at' | 'ticket') => ({
    value: v[k],
    error: k === 'ticket' ? undefined : errors[k],
    onChange: (e: { target: { value: string } }) => setV((cur) => ({ ...cur, [k]: e.target.value })),
  });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const entitlements = v.entitlements.split(/[\s,]+/).filter(Boolean);
    const seconds = v.duration.trim() ? parseDuration(v.duration) : undefined;
    const found: FieldErrors<Field> = {
      person: v.person ? undefined : 'Choose a person.',
      target: v.target ? undefined : 'Choose a target.',
      entitlements: entitlements.length ? undefined : 'Name at least one group or role.',
      duration: seconds === null ? 'Enter a duration such as 30m or 1h, or leave it empty.' : undefined,
    };
    setErrors(found);
    if (Object.values(found).some(Boolean)) return;
    setBusy(true);
    try {
      setResult(
        await call('simulatePolicy', { params: { tenant: ws.slug }, body: {
          operatorEmail: v.person,
          targetId: v.target,
          entitlements,
          ...(seconds ? { durationSeconds: seconds } : {}),
          ...(v.at ? { at: localInputToIso(v.at) } : {}),
          ...(v.ticket.trim() ? { ticket: v.ticket.trim() } : {}),
          ...(v.emergency ? { emergency: true } : {}),
        } }),
      );
    } catch (err) {
      setResult(null);
      setErrors(placeError(err, paths, [[/operator/, 'person']]));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="simulate-title">
      <h2 id="simulate-title">Simulate a request</h2>
      <p className="hint section-intro">Which policy applies and what happens, at a time you choose. Nothing is requested or written.</p>
      <form onSubmit={submit} noValidate className="simulate-form">
        <FormError message={errors.form} />
        <div className="grid-3">
          <SelectField id="sim-person" label="Person" {...bind('person')}>
            <option value="">Choose…</option>
            {people.map((email) => (
              <option key={email} value={email}>
                {email}
              </option>
            ))}
          </SelectField>
          <SelectField id="sim-target" label="Target" {...bind('target')}>
            <option value="">Choose…</option>
            {props.targets.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </SelectField>
          <TextField id="sim-entitlements" label="Groups / roles" hint="Comma separated." {...bind('entitlements')} />
          <TextField id="sim-duration" label="Duration (optional)" placeholder="policy default" {...bind('duration')} />
          <TextField id="sim-at" label="At (optional)" type="datetime-local" hint="Empty: now." {...bind('at')} />
          <TextField id="sim-ticket" label="Ticket (optional)" {...bind('ticket')} />
        </div>
        <div className="form-actions">
          <label className="choice">
            <input type="checkbox" checked={v.emergency} onChange={(e) => setV((cur) => ({ ...cur, emergency: e.target.checked }))} />
            As an emergency (break-glass)
          </label>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Simulating…' : 'Simulate'}
          </button>
        </div>
      </form>
      {result ? (
        <div className={`sim-result route-${result.route}`} role="status" aria-label="Simulation result">
          <p>
            <strong>{routeText[result.route] ?? result.route}</strong>
            {result.policy ? <> under policy “{result.policy}”</> : ' (no policy applies)'}
            {result.autoApprovedBy ? <> by rule “{result.autoApprovedBy}”</> : null}.
          </p>
          {result.refusals.length ? (
            <ul>
              {result.refusals.map((r) => (
                <li key={r}>{r}</li>
              ))}
            </ul>
          ) : null}
          {result.route === 'approval' && result.approvalLevels.length ? (
            <ul className="sim-levels">
              {result.approvalLevels.map((l) => (
                <li key={l.level}>
                  Level {l.level}: {l.quorum} approval{l.quorum === 1 ? '' : 's'} from {l.approvers.join(', ') || 'nobody'}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
