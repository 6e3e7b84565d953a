/**
 * Said plainly when the server cannot be reached: after a few seconds without the live stream
 * (not at every brief reconnection), a banner says that what the page shows may be out of date
 * and that countdowns are estimates until the connection is back.
 */
import { useEffect, useState } from 'react';
import { useLiveStatus } from '../live';

const GRACE_MS = 3000;

export function ConnectionBanner() {
  const status = useLiveStatus();
  const [lost, setLost] = useState(false);
  useEffect(() => {
    if (status === 'live') {
      setLost(false);
      return;
    }
    const t = setTimeout(() => setLost(true), GRACE_MS);
    return () => clearTimeout(t);
  }, [status]);
  return (
    <div aria-live="assertive">
      {lost ? (
        <p className="connection-banner" role="alert" data-testid="connection-banner">
          <strong>The Timebox server cannot be reached.</strong> What you see may be out of date and countdowns are not confirmed. Trying to
          reconnect…
        </p>
      ) : null}
    </div>
  );
}
