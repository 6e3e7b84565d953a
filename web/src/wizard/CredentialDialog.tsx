/**
 * What a grant hands out, revealed once and never again (Timebox erases it as it is read): a
 * password, or a certificate with its private key when Timebox generated the pair, or a token.
 * Each part can be copied or downloaded; a line says how to use it. Nothing is logged or kept by
 * the page. `revealed` shows something already fetched (a rotated password) without a reveal step.
 */
import { useState, type ReactNode } from 'react';
import { call, messageOf } from '../api';
import { Dialog } from '../components/Dialog';
import { FormError } from '../components/Field';
import { SecretField } from '../components/SecretField';
import { useTotpStep } from '../components/TotpField';
import { formatDateWithZone } from '../format';
import { ConnectDetails } from './ConnectDetails';
import type { Credential, Grant } from '../../../src/api/types.js';
import { partsOf, secretNoun, usageOf } from './credential-kinds';

const titles = { password: 'Your JIT account is ready', certificate: 'Your certificate is ready', token: 'Your token is ready' };

function OnlyOnce(props: { noun: 'password' | 'certificate' | 'token'; generatedKey: boolean }) {
  if (props.noun === 'password') {
    return (
      <>
        <strong>This is the only time the password is shown.</strong> Timebox does not keep it: copy it into your password manager now. If
        it is lost, enable the account again to get a new one.
      </>
    );
  }
  return (
    <>
      <strong>This is the only time the {props.generatedKey ? `${props.noun} and its private key are` : `${props.noun} is`} shown.</strong>{' '}
      Timebox keeps no copy{props.generatedKey ? ' of the private key' : ''}: save {props.generatedKey ? 'both' : 'it'} now. It stops working when the
      access ends; if it is lost, request access again.
    </>
  );
}

export function CredentialDialog(props: {
  tenant: string;
  grant: Pick<Grant, 'id' | 'username' | 'targetName' | 'expiresAt' | 'entitlements'>;
  /** The target's kind, when known: it names what is revealed before it arrives. */
  kind?: string | undefined;
  revealed?: Credential;
  title?: string;
  intro?: ReactNode;
  onClose: () => void;
}) {
  const { grant } = props;
  const [credential, setCredential] = useState<Credential | null>(props.revealed ?? null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const totp = useTotpStep('reveal-totp');
  const noun = secretNoun(props.kind, credential);
  const parts = credential ? partsOf(credential) : [];
  const usage = credential ? usageOf(credential, grant.entitlements[0]) : null;
  const endsAt = credential?.connect?.endsAt ?? credential?.expiresAt ?? grant.expiresAt;

  const reveal = async () => {
    setBusy(true);
    setError(null);
    try {
      setCredential(await call('revealCredential', { params: { tenant: props.tenant, grantId: grant.id }, body: totp.body() }));
    } catch (err) {
      if (!totp.handle(err)) setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title={props.title ?? titles[noun]} onClose={props.onClose} wide={noun !== 'password'}>
      {props.intro}
      <dl className="facts">
        <dt>{noun === 'password' ? 'Username' : 'Issued to'}</dt>
        <dd data-testid="credential-username">{credential?.username ?? grant.username}</dd>
        <dt>Target</dt>
        <dd>{grant.targetName}</dd>
        <dt>{noun === 'password' ? 'Active until' : 'Valid until'}</dt>
        <dd data-testid="credential-ends">{endsAt ? formatDateWithZone(endsAt) : '—'}</dd>
      </dl>
      <p className="warning" id="only-once">
        <OnlyOnce noun={noun} generatedKey={!!credential?.privateKey} />
      </p>
      <FormError message={error} />
      {credential && parts.length ? (
        <>
          {parts.map((p) => (
            <SecretField key={p.key} id={`credential-${p.key}`} label={p.label} value={p.value} fileName={p.fileName} note={p.note} describedBy="only-once" />
          ))}
          {usage ? (
            <p className="usage" data-testid="credential-usage">
              How to use: <code className="mono">{usage}</code>
            </p>
          ) : null}
          {credential.connect ? <ConnectDetails connect={credential.connect} showEnd={false} /> : null}
        </>
      ) : credential ? (
        <p>This account signs in without a password (the target issued none).</p>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void reveal();
          }}
        >
          {totp.field}
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Revealing…' : `Reveal ${noun}`}
          </button>
        </form>
      )}
      <div className="dialog-actions">
        <button type="button" onClick={props.onClose}>
          {credential ? 'Done' : 'Later'}
        </button>
      </div>
    </Dialog>
  );
}
