/** The footers of dialogs, so every dialog offers the same buttons in the same order. */

/**
 * A dialog form's Cancel and submit buttons. The submit button is disabled and says what is
 * happening while the request runs, so it cannot be sent twice.
 */
export function DialogActions(props: { onCancel: () => void; busy: boolean; label: string; busyLabel: string; tone?: 'primary' | 'danger' }) {
  return (
    <div className="dialog-actions">
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
      <button type="submit" className={props.tone ?? 'primary'} disabled={props.busy}>
        {props.busy ? props.busyLabel : props.label}
      </button>
    </div>
  );
}

/** The one button left once a dialog has done its work and shows the outcome. */
export function DialogDone(props: { onClose: () => void; autoFocus?: boolean }) {
  return (
    <div className="dialog-actions">
      <button type="button" className="primary" onClick={props.onClose} autoFocus={props.autoFocus}>
        Done
      </button>
    </div>
  );
}
