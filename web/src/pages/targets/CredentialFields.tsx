/** Fields of the credential kinds: SSH certificates, X.509 client certificates, security tokens. */
import { CheckList } from '../../components/CheckList';
import { TextArea, TextField } from '../../components/Field';
import type { CredentialKind } from '../../wizard/credential-kinds';
import { sshExtensions } from './credential-kinds';
import { binder, type FieldProps } from './field-binding';

export function CredentialFields(p: FieldProps & { kind: CredentialKind }) {
  const bind = binder(p);
  if (p.kind === 'ssh-certificate') {
    const extensions = (p.values.extensions ?? '').split(',').filter(Boolean);
    return (
      <>
        <p className="hint section-intro">
          Hosts trust the tenant’s SSH CA once (TrustedUserCAKeys) and refresh its revocation list; nothing changes on a host per grant.
        </p>
        <div className="grid-2">
          <TextArea
            id="target-principals"
            label="Principals that may be granted"
            rows={4}
            className="mono"
            placeholder={'deploy\nops'}
            hint="One per line: the account names on the hosts (AuthorizedPrincipals). No wildcards."
            {...bind('principalsAllowed')}
          />
          <div>
            <TextField
              id="target-principal-pattern"
              label="Or principals matching (optional)"
              className="mono"
              placeholder="e.g. app-[a-z]+"
              hint="A regular expression the whole principal must match."
              {...bind('principalPattern')}
            />
            <TextField id="target-force-command" label="Force command (optional)" className="mono" placeholder="/usr/bin/rsync --server" hint="The only command the certificate may run." {...bind('forceCommand')} />
          </div>
          <CheckList
            compact
            legend="Certificate extensions"
            options={sshExtensions}
            selected={extensions}
            onChange={(next) => p.onChange('extensions', sshExtensions.map((x) => x.value).filter((v) => next.includes(v)).join(','))}
            error={p.errors.extensions}
            hint="Only what the holders need; none at all is allowed too."
          />
          <TextArea
            id="target-source-addresses"
            label="Source addresses (optional)"
            rows={3}
            className="mono"
            placeholder={'10.0.0.0/8\n192.0.2.7'}
            hint="One per line: client addresses or CIDR ranges the certificate may be used from. Any when empty."
            {...bind('sourceAddresses')}
          />
        </div>
      </>
    );
  }
  if (p.kind === 'x509-certificate') {
    return (
      <>
        <p className="hint section-intro">Relying parties (mTLS servers, proxies) trust the tenant’s X.509 CA and its CRL, and authorise on the role URIs.</p>
        <div className="grid-2">
          <TextArea id="target-roles" label="Roles that may be granted" rows={4} className="mono" placeholder={'reader\nwriter'} hint="One per line; each becomes a URI in the certificate." {...bind('roles')} />
          <div>
            <TextField id="target-role-uri-prefix" label="Role URI prefix" className="mono" hint="Each role’s URI is this prefix plus the role, e.g. urn:timebox:role:reader." {...bind('roleUriPrefix')} />
            <label className="choice">
              <input type="checkbox" checked={p.values.emailSan === 'true'} onChange={(e) => p.onChange('emailSan', String(e.target.checked))} /> Put the requester’s e-mail address in the certificate too
            </label>
          </div>
        </div>
      </>
    );
  }
  return (
    <>
      <p className="hint section-intro">Resource servers verify the tokens offline against the tenant’s JWKS, or ask Timebox (introspection), which also knows of early ends.</p>
      <div className="grid-2">
        <TextArea id="target-audience" label="Audience" rows={2} className="mono" placeholder="https://api.example.com" hint="The API the tokens are for (aud); one per line, at most 8." {...bind('audience')} />
        <TextArea id="target-scopes" label="Scopes that may be granted" rows={4} className="mono" placeholder={'orders:read\norders:write'} hint="One per line; granted scopes go into the token’s scope claim." {...bind('scopes')} />
      </div>
    </>
  );
}
