/** A value shown once (a token, a command) with a Copy button and a spoken "Copied". */
import { useState } from 'react';

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard permission (or an insecure origin): the old way, through a selection.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'sr-only';
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

export function CopyField(props: { id: string; label: string; value: string; multiline?: boolean; describedBy?: string }) {
  const [status, setStatus] = useState('');
  const copy = async () => setStatus((await copyText(props.value)) ? 'Copied to the clipboard.' : 'Copy failed: select the text and copy it by hand.');
  return (
    <div className="field copy-field">
      <label htmlFor={props.id}>{props.label}</label>
      <div className="inline">
        {props.multiline ? (
          <textarea id={props.id} readOnly value={props.value} className="mono" rows={3} aria-describedby={props.describedBy} onFocus={(e) => e.target.select()} />
        ) : (
          <input id={props.id} readOnly value={props.value} className="mono" aria-describedby={props.describedBy} onFocus={(e) => e.target.select()} />
        )}
        <button type="button" onClick={copy} aria-label={`Copy ${props.label.toLowerCase()}`}>
          Copy
        </button>
      </div>
      <p className="hint" role="status">
        {status}
      </p>
    </div>
  );
}
