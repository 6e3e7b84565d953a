/**
 * A gateway session that is not a terminal: an SFTP subsystem or the port forwards of one
 * connection. It has a session row like a shell (listed, killed, ended with its grant) and a
 * recording that is a plain log of what passed, one line per file or forward, so the export and
 * the SHA-256 in the closing audit event work the same way.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { createAsciicastRecorder } from './asciicast-recorder.js';
import type { GatewayAccess } from './gateway-access.js';
import type { LiveSession } from './gateway-session.js';
import { closeSessionRow, openSessionRow, sessionOf, type EndReason, type SessionsDeps } from './gateway-sessions.js';
import type { GatewaySessionKind } from '../store/schema-gateway.js';

export interface RelayDeps extends SessionsDeps {
  log: Logger;
  gatewayId: string;
  flushMs: number;
}

export interface RelaySession {
  id: string;
  /** A line in the recording. */
  line(text: string): void;
  /** An audit event about this session (per file, per forward). */
  audit(action: string, after: Record<string, unknown>): Promise<void>;
  live: LiveSession;
}

export async function openRelaySession(
  deps: RelayDeps,
  r: { kind: GatewaySessionKind; command: string; operatorId: string; clientAddress: string | null; access: GatewayAccess },
  /** Closes the relayed channels and the host connection; the row and recording are closed after. */
  stop: (reason: EndReason) => void,
  onEnded: (id: string) => void,
): Promise<RelaySession> {
  const id = randomUUID();
  const key = await openSessionRow(deps, sessionOf(id, deps.gatewayId, r));
  const recorder = createAsciicastRecorder({
    sessionId: id,
    key,
    sink: await deps.recordings.create(id),
    header: { width: 120, height: 24, timestamp: Math.floor(deps.clock.now().getTime() / 1000), title: `${r.kind} ${r.access.account}@${r.access.targetName}`, command: r.command },
    recordInput: false,
    flushMs: deps.flushMs,
    onError: (err) => deps.log.error({ err, sessionId: id }, 'writing the session recording failed'),
  });
  const line = (text: string) => recorder.output(Buffer.from(`${text}\r\n`, 'utf8'));
  let ended: Promise<void> | null = null;
  const live: LiveSession = {
    id,
    grantId: r.access.grantId,
    get ending() {
      return ended !== null;
    },
    // No terminal to write on: the notice goes to the recording only.
    notice: (text) => line(`[timebox] ${text}`),
    resize: () => {},
    signal: () => {},
    end(reason, notice) {
      ended ??= (async () => {
        if (notice) line(`[timebox] ${notice}`);
        try {
          stop(reason);
        } catch (err) {
          deps.log.debug({ err, sessionId: id }, 'closing relayed channels');
        }
        const summary = await recorder.close();
        await closeSessionRow(deps, id, { reason, sha256: summary.sha256, bytes: summary.bytes, complete: true });
        onEnded(id);
      })().catch((err: unknown) => deps.log.error({ err, sessionId: id }, 'closing a gateway session failed'));
      return ended;
    },
  };
  return {
    id,
    line,
    live,
    audit: (action, after) =>
      deps.audit
        .append(deps.db, {
          tenantId: r.access.tenantId,
          actor: { type: 'operator', id: r.operatorId },
          action,
          subject: { type: 'gateway_session', id },
          after: { grantId: r.access.grantId, targetId: r.access.targetId, account: r.access.account, ...after },
        })
        .catch((err: unknown) => deps.log.error({ err, sessionId: id, action }, 'auditing a gateway transfer failed')),
  };
}
