/**
 * A value shown once (password, certificate, private key, token): read-only, with Copy and, when
 * it has a file name, Download. Both happen in the page; nothing is sent or kept anywhere.
 */
import { useRef, useState } from 'react';

type Box = HTMLInputElement | HTMLTextAreaElement;

async function copyText(box: Box, text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    box.select();
    return document.execCommand('copy');
  }
}

/** Saves `text` as a file through a short-lived object URL. */
function download(text: string, fileName: string): void {
  const url = URL.createObjectURL(new Blob([text.endsWith('\n') ? text : `${text}\n`], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function SecretField(props: { id: string; label: string; value: string; fileName?: string | undefined; note?: string | undefined; describedBy?: string }) {
  const { id, label, value, fileName } = props;
  const boxRef = useRef<Box | null>(null);
  const [status, setStatus] = useState('');
  const multiline = value.includes('\n') || value.length > 90;
  const described = [props.describedBy, props.note ? `${id}-note` : ''].filter(Boolean).join(' ') || undefined;
  const noun = label.toLowerCase();

  const copy = async () => {
    if (!boxRef.current) return;
    const ok = await copyText(boxRef.current, value);
    setStatus(ok ? 'Copied to the clipboard.' : `Copy failed: select the ${noun} and copy it by hand.`);
  };

  return (
    <div className="field secret-field">
      <label htmlFor={id}>{label}</label>
      <div className="inline secret-line">
        {multiline ? (
          <textarea
            id={id}
            ref={(el) => void (boxRef.current = el)}
            readOnly
            value={value}
            className="mono"
            rows={Math.min(8, Math.max(3, value.split('\n').length))}
            spellCheck={false}
            aria-describedby={described}
          />
        ) : (
          <input id={id} ref={(el) => void (boxRef.current = el)} readOnly value={value} className="mono" spellCheck={false} aria-describedby={described} />
        )}
        <span className="secret-buttons">
          {/* Names in hidden text, not aria-label: a label lookup for the field must find only the field. */}
          <button type="button" onClick={copy}>
            Copy<span className="sr-only"> {noun}</span>
          </button>
          {fileName ? (
            <button type="button" onClick={() => download(value, fileName)} title={fileName}>
              Download<span className="sr-only"> {noun} as {fileName}</span>
            </button>
          ) : null}
        </span>
      </div>
      {props.note ? (
        <p className="hint" id={`${id}-note`}>
          {props.note}
        </p>
      ) : null}
      <p className="hint" role="status">
        {status}
      </p>
    </div>
  );
}
