/** The configuration fields of the chosen target kind. */
import { SelectField, TextArea, TextField } from '../../components/Field';
import { CredentialFields } from './CredentialFields';
import { binder, type FieldProps } from './field-binding';
import { LinuxAgentFields } from './LinuxAgentFields';
import type { SudoRuleDraft } from './linux-agent-kind';
import type { DraftErrors, TargetDraft, TargetKind } from './target-kinds';

export function KindFields(props: {
  kind: TargetKind;
  draft: TargetDraft;
  errors: DraftErrors;
  onChange: (field: string, value: string) => void;
  onRules: (rules: SudoRuleDraft[]) => void;
}) {
  const p: FieldProps = { values: props.draft.values, errors: props.errors, onChange: props.onChange };
  switch (props.kind) {
    case 'postgres':
      return <PostgresFields {...p} />;
    case 'active-directory':
    case 'active-directory-groups':
      return <DirectoryFields {...p} jitAccounts={props.kind === 'active-directory'} />;
    case 'linux-agent':
    case 'linux-agent-users':
      return <LinuxAgentFields {...p} rules={props.draft.sudoRules} onRules={props.onRules} pickAgent existingUsers={props.kind === 'linux-agent-users'} />;
    default:
      return <CredentialFields {...p} kind={props.kind} />;
  }
}

function PostgresFields(p: FieldProps) {
  const bind = binder(p);
  return (
    <div className="grid-2">
      <TextField id="target-host" label="Host" autoComplete="off" hint="Name or address of the PostgreSQL server." {...bind('host')} />
      <TextField id="target-port" label="Port" inputMode="numeric" {...bind('port')} />
      <TextField id="target-database" label="Database" hint="Any database the service account may connect to." {...bind('database')} />
      <SelectField id="target-ssl" label="SSL" {...bind('ssl')}>
        <option value="disable">disable</option>
        <option value="require">require (encrypt, trust any certificate)</option>
        <option value="verify-full">verify-full (check certificate and host)</option>
      </SelectField>
      <TextField id="target-user" label="Service account user" autoComplete="off" hint="Needs CREATEROLE and pg_signal_backend." {...bind('user')} />
      <TextField id="target-password" label="Service account password" type="password" autoComplete="new-password" {...bind('password')} />
      {p.values.ssl === 'verify-full' ? (
        <TextArea
          id="target-pg-ca-pem"
          label="Server CA certificate (PEM, optional)"
          rows={4}
          className="mono"
          placeholder="-----BEGIN CERTIFICATE-----"
          hint="The CA that signed the server’s certificate; the system’s CAs when empty."
          {...bind('caPem')}
        />
      ) : null}
    </div>
  );
}

function DirectoryFields(p: FieldProps & { jitAccounts: boolean }) {
  const bind = binder(p);
  const ad = p.jitAccounts;
  return (
    <div className="grid-2">
      <div>
        <TextField id="target-url" label="Domain controller URL" placeholder="ldaps://dc1.example.com" autoComplete="off" hint="ldaps:// (port 636), or ldap:// with StartTLS." {...bind('url')} />
        <label className="choice start-tls">
          <input type="checkbox" checked={p.values.startTls === 'true'} onChange={(e) => p.onChange('startTls', String(e.target.checked))} /> Use StartTLS (ldap:// only)
        </label>
        {p.errors.startTls ? (
          <p className="field-error" role="alert">
            {p.errors.startTls}
          </p>
        ) : null}
      </div>
      <TextField id="target-tls-name" label="TLS server name (optional)" hint="The name in the DC’s certificate, when the URL uses an IP address or alias." {...bind('tlsServerName')} />
      <TextField id="target-bind-dn" label="Service account (bind DN)" autoComplete="off" placeholder="svc-timebox@example.com" {...bind('bindDn')} />
      <TextField id="target-bind-password" label="Service account password" type="password" autoComplete="new-password" {...bind('bindPassword')} />
      <TextField id="target-base-dn" label="Base DN" placeholder="DC=example,DC=com" hint="Groups are looked for under it." {...bind('baseDn')} />
      {ad ? (
        <TextField id="target-jit-ou" label="OU for JIT accounts" placeholder="OU=JIT,DC=example,DC=com" hint="Inside the base DN; the service account needs rights on it." {...bind('jitOu')} />
      ) : (
        <p className="hint">This kind adds people’s own directory accounts to groups for a time; no accounts are created.</p>
      )}
      <TextArea id="target-ca-pem" label="CA certificate (PEM)" rows={4} className="mono" placeholder="-----BEGIN CERTIFICATE-----" hint="The certificate chain of the DCs is always checked." {...bind('caPem')} />
      {ad ? (
        <div>
          <TextField id="target-upn-suffix" label="UPN suffix (optional)" placeholder="example.com" hint="JIT accounts sign in as name@suffix; the domain’s name when empty." {...bind('upnSuffix')} />
          <TextField
            id="target-delete-idle"
            label="Delete disabled accounts after (days, optional)"
            inputMode="numeric"
            hint="A JIT account left disabled this long is deleted; kept when empty."
            {...bind('deleteAfterIdleDays')}
          />
        </div>
      ) : null}
    </div>
  );
}
