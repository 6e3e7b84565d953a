/** The connection fields of the chosen target kind. */
import { SelectField, TextArea, TextField } from '../../components/Field';
import type { ConfigValues, Flags, TargetKind } from './target-kinds';

export function KindFields(props: {
  kind: TargetKind;
  values: ConfigValues;
  errors: ConfigValues;
  flags: Flags;
  onChange: (field: string, value: string) => void;
  onFlags: (f: Flags) => void;
}) {
  const { values: v, errors } = props;
  const bind = (f: string) => ({ value: v[f] ?? '', error: errors[f], onChange: (e: { target: { value: string } }) => props.onChange(f, e.target.value) });
  if (props.kind === 'postgres') {
    return (
      <div className="grid-2">
        <TextField id="target-host" label="Host" autoComplete="off" {...bind('host')} />
        <TextField id="target-port" label="Port" inputMode="numeric" {...bind('port')} />
        <TextField id="target-database" label="Database" {...bind('database')} />
        <SelectField id="target-ssl" label="SSL" {...bind('ssl')}>
          <option value="disable">disable</option>
          <option value="require">require (encrypt, trust any certificate)</option>
          <option value="verify-full">verify-full (check certificate and host)</option>
        </SelectField>
        <TextField id="target-user" label="Service account user" autoComplete="off" hint="Needs CREATEROLE and pg_signal_backend." {...bind('user')} />
        <TextField id="target-password" label="Service account password" type="password" autoComplete="new-password" {...bind('password')} />
      </div>
    );
  }
  const ad = props.kind === 'active-directory';
  return (
    <div className="grid-2">
      <div>
        <TextField id="target-url" label="Domain controller URL" placeholder="ldaps://dc1.example.com" autoComplete="off" hint="ldaps:// (port 636), or ldap:// with StartTLS." {...bind('url')} />
        <label className="choice start-tls">
          <input type="checkbox" checked={props.flags.startTls} onChange={(e) => props.onFlags({ startTls: e.target.checked })} /> Use StartTLS (ldap:// only)
        </label>
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
      {ad ? <TextField id="target-upn-suffix" label="UPN suffix (optional)" placeholder="example.com" {...bind('upnSuffix')} /> : null}
    </div>
  );
}
