/** Ticket, extension, break-glass, fresh authenticator codes, scheduling ahead and concurrency. */
import type { ReactNode } from 'react';
import { TextField } from '../../components/Field';
import type { PolicyDraft, PolicyErrors } from './draft';

function Switch(props: { id: string; checked: boolean; onChange: (on: boolean) => void; children: ReactNode; hint?: string }) {
  return (
    <div className="switch">
      <label className="choice" htmlFor={props.id}>
        <input id={props.id} type="checkbox" checked={props.checked} onChange={(e) => props.onChange(e.target.checked)} aria-describedby={props.hint ? `${props.id}-hint` : undefined} />
        {props.children}
      </label>
      {props.hint ? (
        <p className="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

export function SwitchesFields(props: { d: PolicyDraft; errors: PolicyErrors; set: (patch: Partial<PolicyDraft>) => void }) {
  const { d, errors, set } = props;
  return (
    <div className="grid-2 switches">
      <fieldset className="field group-box">
        <legend>Ticket</legend>
        <Switch id="policy-ticket-required" checked={d.ticketRequired} onChange={(on) => set({ ticketRequired: on })}>
          A ticket or change number is required
        </Switch>
        <TextField
          id="policy-ticket-pattern"
          label="Ticket pattern (optional)"
          className="mono"
          placeholder="e.g. (INC|CHG)-[0-9]+"
          value={d.ticketPattern}
          hint="A regular expression the whole ticket must match."
          error={errors.ticket}
          onChange={(e) => set({ ticketPattern: e.target.value })}
        />
      </fieldset>
      <fieldset className="field group-box">
        <legend>Extension</legend>
        <Switch id="policy-extension" checked={d.extensionAllowed} onChange={(on) => set({ extensionAllowed: on })}>
          Requesters may ask for more time
        </Switch>
        {d.extensionAllowed ? (
          <>
            <TextField id="policy-extension-max" label="Longest total, extensions included" value={d.extensionMaxTotal} error={errors.extension} onChange={(e) => set({ extensionMaxTotal: e.target.value })} />
            <Switch id="policy-extension-self" checked={d.extensionSelf} onChange={(on) => set({ extensionSelf: on })} hint="Otherwise extensions go through the approval levels.">
              Without asking the approvers again
            </Switch>
          </>
        ) : errors.extension ? (
          <p className="field-error" role="alert">
            {errors.extension}
          </p>
        ) : null}
      </fieldset>
      <fieldset className="field group-box">
        <legend>Emergency and MFA</legend>
        <Switch
          id="policy-break-glass"
          checked={d.breakGlass}
          onChange={(on) => set({ breakGlass: on })}
          hint="Access at once without approval or windows; everyone is alerted and a review is owed."
        >
          Allow break-glass (emergency) access
        </Switch>
        <Switch id="policy-mfa-request" checked={d.mfa.request} onChange={(on) => set({ mfa: { ...d.mfa, request: on } })}>
          Fresh authenticator code to request
        </Switch>
        <Switch id="policy-mfa-approve" checked={d.mfa.approve} onChange={(on) => set({ mfa: { ...d.mfa, approve: on } })}>
          Fresh authenticator code to approve
        </Switch>
        <Switch id="policy-mfa-reveal" checked={d.mfa.reveal} onChange={(on) => set({ mfa: { ...d.mfa, reveal: on } })}>
          Fresh authenticator code to reveal the password
        </Switch>
      </fieldset>
      <fieldset className="field group-box">
        <legend>SSH gateway</legend>
        <Switch
          id="policy-gateway-only"
          checked={d.gateway.only}
          onChange={(on) => set({ gateway: { ...d.gateway, only: on } })}
          hint="The password is never shown: people reach the host through the gateway (timebox ssh), recorded. Needs a Linux target whose password is shown, not e-mailed."
        >
          Gateway only
        </Switch>
        <Switch id="policy-gateway-input" checked={d.gateway.recordInput} onChange={(on) => set({ gateway: { ...d.gateway, recordInput: on } })} hint="Passwords typed at prompts are recorded too.">
          Record keystrokes
        </Switch>
        <Switch id="policy-gateway-forwarding" checked={d.gateway.allowPortForwarding} onChange={(on) => set({ gateway: { ...d.gateway, allowPortForwarding: on } })} hint="ssh -L, opened from the host to what the host reaches.">
          Allow port forwarding
        </Switch>
        <Switch id="policy-gateway-sftp" checked={d.gateway.allowSftp} onChange={(on) => set({ gateway: { ...d.gateway, allowSftp: on } })} hint="Each file transferred is logged by name and size.">
          Allow SFTP
        </Switch>
      </fieldset>
      <fieldset className="field group-box">
        <legend>Scheduling and limits</legend>
        <TextField
          id="policy-schedule-ahead"
          label="Schedule a start up to (days ahead)"
          inputMode="numeric"
          value={d.scheduleAheadDays}
          hint="0: access starts when approved."
          error={errors.schedule}
          onChange={(e) => set({ scheduleAheadDays: e.target.value })}
        />
        <TextField
          id="policy-concurrent"
          label="Open grants per person (optional)"
          inputMode="numeric"
          value={d.maxConcurrent}
          error={errors.concurrent}
          onChange={(e) => set({ maxConcurrent: e.target.value })}
        />
      </fieldset>
    </div>
  );
}
