/**
 * "Your public key" for targets that sign the person's own key: pasted or read from a chosen file
 * (in the page; the file never leaves it except as the request). Optional: without one Timebox
 * generates a key pair and shows the private key once. The server judges the key; its message
 * is shown under the field.
 */
import { useId, useState } from 'react';
import { TextArea } from '../components/Field';
import { publicKeyHelp } from './credential-kinds';

/** Caught here so a private key is never sent anywhere, not even to Timebox. */
export function publicKeyProblem(text: string): string | null {
  return /PRIVATE KEY/.test(text) ? 'This is a PRIVATE key; never share it. Paste the public key instead (the .pub file, or a CSR).' : null;
}

export function PublicKeyField(props: { kind: string; value: string; error?: string | undefined; onChange: (next: string) => void }) {
  const help = publicKeyHelp[props.kind];
  const fileId = useId();
  const [fileError, setFileError] = useState<string | null>(null);

  const choose = async (file: File | undefined) => {
    if (!file) return;
    if (file.size > 16 * 1024) return setFileError('That file is too large to be a public key (at most 16 KiB).');
    setFileError(null);
    props.onChange((await file.text()).trim());
  };

  return (
    <div className="public-key">
      <TextArea
        id="public-key"
        label="Your public key (optional)"
        rows={3}
        className="mono"
        spellCheck={false}
        autoComplete="off"
        placeholder={help?.placeholder}
        value={props.value}
        hint={
          <>
            {help?.hint} Without a key, Timebox generates a key pair for you and shows the private key once, next to the certificate.
          </>
        }
        error={props.error ?? fileError}
        onChange={(e) => props.onChange(e.target.value)}
      />
      <p className="file-pick">
        {/* The input comes first so its keyboard focus can be shown on the label that looks like a button. */}
        <input
          id={fileId}
          type="file"
          className="sr-only"
          accept={help?.accept}
          onChange={(e) => {
            void choose(e.target.files?.[0]);
            e.target.value = '';
          }}
        />
        <label htmlFor={fileId} className="button">
          Choose a file…
        </label>
      </p>
    </div>
  );
}
