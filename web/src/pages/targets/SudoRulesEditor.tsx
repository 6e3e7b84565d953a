/**
 * The sudo rules a host target offers, each asked for as `sudo:<name>`: whom the grantee may act
 * as, which commands, and whether sudo asks for their password. A grant holds at most one rule.
 */
import type { DraftErrors } from './schema-fields';
import { newSudoRule, ruleErrorKey, type SudoRuleDraft } from './sudo-rules';

export function SudoRulesEditor(props: { rules: SudoRuleDraft[]; errors: DraftErrors; onChange: (next: SudoRuleDraft[]) => void; idPrefix: string }) {
  const { rules, errors } = props;
  const update = (key: string, patch: Partial<SudoRuleDraft>) => props.onChange(rules.map((r) => (r.key === key ? { ...r, ...patch } : r)));
  const listError = errors.sudoRules;
  return (
    <fieldset className="field group-box sudo-rules" aria-describedby={listError ? `${props.idPrefix}-sudo-error` : undefined}>
      <legend>Sudo rules</legend>
      <p className="hint">
        Elevation or impersonation offered as <span className="mono">sudo:&lt;name&gt;</span>. Each ends with the grant: sudo’s own time limit is written
        into the rule.
      </p>
      <div className="repeat-list">
        {rules.length === 0 ? <p className="hint">No sudo rules: grants give a local account and groups only.</p> : null}
        {rules.map((r, i) => {
          const id = `${props.idPrefix}-${r.key}`;
          const label = r.name.trim() || `rule ${i + 1}`;
          const err = (f: 'name' | 'runAs' | 'commands') => errors[ruleErrorKey(r, f)];
          const described = (f: 'name' | 'runAs' | 'commands', hint: boolean) =>
            [hint ? `${id}-${f}-hint` : '', err(f) ? `${id}-${f}-error` : ''].filter(Boolean).join(' ') || undefined;
          return (
            <fieldset key={r.key} className="repeat-item" data-testid={`sudo-rule-${i + 1}`}>
              <legend>Sudo rule {label}</legend>
              <div className="grid-2">
                <div className="field">
                  <label htmlFor={`${id}-name`}>Rule name</label>
                  <input
                    id={`${id}-name`}
                    className="mono"
                    value={r.name}
                    placeholder="e.g. psql"
                    aria-invalid={err('name') ? true : undefined}
                    aria-describedby={described('name', true)}
                    onChange={(e) => update(r.key, { name: e.target.value })}
                  />
                  <p className="hint" id={`${id}-name-hint`}>
                    Lowercase letters, digits, _ and -. People ask for sudo:{r.name.trim() || 'name'}.
                  </p>
                  <FieldError id={`${id}-name-error`} message={err('name')} />
                </div>
                <div className="field">
                  <label htmlFor={`${id}-run-as`}>Run as</label>
                  <input
                    id={`${id}-run-as`}
                    className="mono"
                    value={r.runAs}
                    placeholder="root"
                    aria-invalid={err('runAs') ? true : undefined}
                    aria-describedby={described('runAs', true)}
                    onChange={(e) => update(r.key, { runAs: e.target.value })}
                  />
                  <p className="hint" id={`${id}-runAs-hint`}>
                    Users the grantee may act as (sudo -u), comma-separated; root when empty, ALL for anyone.
                  </p>
                  <FieldError id={`${id}-runAs-error`} message={err('runAs')} />
                </div>
              </div>
              <div className="field">
                <label htmlFor={`${id}-commands`}>Commands</label>
                <textarea
                  id={`${id}-commands`}
                  className="mono"
                  rows={3}
                  value={r.commands}
                  placeholder={'/usr/bin/systemctl restart nginx\n/usr/bin/psql'}
                  aria-invalid={err('commands') ? true : undefined}
                  aria-describedby={described('commands', true)}
                  onChange={(e) => update(r.key, { commands: e.target.value })}
                />
                <p className="hint" id={`${id}-commands-hint`}>
                  One per line: an absolute path with its arguments, optionally pinned as sha256:&lt;digest&gt; /path, or ALL.
                </p>
                <FieldError id={`${id}-commands-error`} message={err('commands')} />
              </div>
              <div className="inline wrap">
                <label className="choice">
                  <input type="checkbox" checked={r.noPassword} onChange={(e) => update(r.key, { noPassword: e.target.checked })} /> No password: sudo does not ask
                  for one (people signing in with keys may have none)
                </label>
                <button type="button" className="link-button remove" onClick={() => props.onChange(rules.filter((x) => x.key !== r.key))} aria-label={`Remove sudo rule ${label}`}>
                  Remove
                </button>
              </div>
            </fieldset>
          );
        })}
        <button type="button" onClick={() => props.onChange([...rules, newSudoRule()])} disabled={rules.length >= 32}>
          Add sudo rule
        </button>
      </div>
      <FieldError id={`${props.idPrefix}-sudo-error`} message={listError} />
    </fieldset>
  );
}

function FieldError({ id, message }: { id: string; message: string | undefined }) {
  if (!message) return null;
  return (
    <p className="field-error" id={id} role="alert">
      {message}
    </p>
  );
}
