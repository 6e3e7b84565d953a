/**
 * How the pool reaches the server. Two rules apply before the service password leaves:
 * - the address: the host is resolved through the server's outbound policy and the socket goes to
 *   the address it checked (a Unix socket counts as this host, i.e. loopback);
 * - the method: a server asking for the password in clear text or as MD5 is refused unless the
 *   target allows it (`allowInsecurePasswordAuth`), since either hands a fake or intercepting
 *   server the password itself or a replayable hash of it. SCRAM never reveals it.
 */
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import pg from 'pg';
import { connectThroughPolicy, type OutboundPolicy } from '../../net/outbound-policy.js';

/** The code of the refusal, mapped to a permanent error class (a person must change something). */
export const INSECURE_AUTH = 'EINSECUREAUTH';

/** A socket whose connect() goes through the policy's lookup (pg calls connect(port, host) or connect(path)). */
export function pinnedStream(policy: OutboundPolicy): () => net.Socket {
  return () => {
    const socket = new net.Socket();
    const connect = socket.connect.bind(socket) as (...args: unknown[]) => net.Socket;
    (socket as { connect: unknown }).connect = (portOrPath: number | string, host?: string) => {
      if (typeof portOrPath === 'string' && host === undefined) {
        const problem = policy.addressProblem(ipaddr.parse('127.0.0.1'));
        if (problem) {
          process.nextTick(() => socket.destroy(Object.assign(new Error(`a Unix socket is ${problem}`), { code: 'EOUTBOUND' })));
          return socket;
        }
        return connect(portOrPath);
      }
      return connectThroughPolicy(policy, socket, connect, host ?? 'localhost', Number(portOrPath));
    };
    return socket;
  };
}

type ClientInternals = {
  _handleErrorWhileConnecting(err: Error): void;
  connection: { stream: net.Socket };
};

function refuse(client: ClientInternals, method: string) {
  const err = Object.assign(
    new Error(
      `the server asked for the password in ${method}; Timebox sends it only over SCRAM (set password_encryption = 'scram-sha-256', reset the password, and use scram-sha-256 in pg_hba.conf), or set allowInsecurePasswordAuth on the target`,
    ),
    { code: INSECURE_AUTH },
  );
  client._handleErrorWhileConnecting(err);
  client.connection.stream.destroy();
}

/** pg.Client that answers only SCRAM (pg binds its auth handlers by name, so overriding them suffices). */
export class ScramOnlyClient extends pg.Client {
  _handleAuthCleartextPassword(): void {
    refuse(this as unknown as ClientInternals, 'clear text');
  }
  _handleAuthMD5Password(): void {
    refuse(this as unknown as ClientInternals, 'MD5 form');
  }
}
