/**
 * The limits on TCP connections that have not signed in yet (see SIGN_IN_LIMITS): at most
 * `perAddress` from one address and `total` in all wait at once, a connection beyond is closed
 * at once, and each one still waiting after the grace time is closed. Counted from the TCP
 * connection, so a socket that never sends its SSH identification is limited too.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

/**
 * Before sign-in a connection costs the gateway memory and, per attempt, database reads, and is
 * anyone's to open: as OpenSSH does (LoginGraceTime, MaxStartups, MaxAuthTries), it gets a
 * deadline and a cap on how many may wait at once, per address and in all (here, from the TCP
 * connection), and a number of refused attempts (gateway-connection.ts).
 */
export const SIGN_IN_LIMITS = { graceMs: 120_000, refusedAttempts: 20, perAddress: 32, total: 512 } as const;

/** One TCP connection, as ssh2 tells it (`info.ip`, `info.port`) and as the socket says it. */
export const socketKey = (ip: string | undefined, port: number | undefined) => `${ip ?? ''}|${port ?? ''}`;

export function preSignInLimits(log: Pick<Logger, 'info' | 'warn'>, graceMs: number, limits: { perAddress: number; total: number } = SIGN_IN_LIMITS) {
  const waiting = new Map<string, { address: string; timer: NodeJS.Timeout }>();
  const perAddress = new Map<string, number>();
  const release = (key: string) => {
    const w = waiting.get(key);
    if (!w) return;
    clearTimeout(w.timer);
    waiting.delete(key);
    const n = (perAddress.get(w.address) ?? 1) - 1;
    if (n > 0) perAddress.set(w.address, n);
    else perAddress.delete(w.address);
  };
  return {
    /** False (and the socket closed) when it is one too many. */
    admit(socket: Socket): boolean {
      const address = socket.remoteAddress ?? '';
      const mine = perAddress.get(address) ?? 0;
      if (mine >= limits.perAddress || waiting.size >= limits.total) {
        log.warn({ address, waiting: mine, total: waiting.size }, 'gateway closed a connection: too many connections from this address (or in all) have not signed in');
        socket.destroy();
        return false;
      }
      const key = socketKey(socket.remoteAddress, socket.remotePort);
      const timer = setTimeout(() => {
        log.info({ address }, 'gateway closed a connection that did not sign in in time');
        socket.destroy();
      }, graceMs);
      timer.unref();
      waiting.set(key, { address, timer });
      perAddress.set(address, mine + 1);
      socket.once('close', () => release(key));
      return true;
    },
    signedIn: release,
    close() {
      for (const key of [...waiting.keys()]) release(key);
    },
  };
}
