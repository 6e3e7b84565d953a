/**
 * A page's word on what an action just did ("Revoked web-01…"). The live region is always there so
 * that screen readers announce the message when it appears, not only when the page is read again.
 */
export function LiveNotice({ message }: { message: string | null }) {
  return (
    <div aria-live="polite">
      {message ? (
        <p className="notice" role="status">
          {message}
        </p>
      ) : null}
    </div>
  );
}
