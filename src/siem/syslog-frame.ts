/**
 * RFC 5424 messages in RFC 6587 octet-counted framing: `<len> <PRI>1 TIMESTAMP HOST APP - MSGID - MSG`.
 * MSG is the export line itself (JSON, UTF-8), so a collector stores what `audit/export` shows.
 */
import type { ExportedEvent } from './exported-event.js';

/** Facility 13 ("log audit") × 8 + severity 6 (informational). */
export const AUDIT_PRI = 13 * 8 + 6;
export const APP_NAME = 'timebox';

/** PRINTUSASCII (33–126) only, at most `max` characters; "-" (NILVALUE) when nothing is left. */
export function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean === '' ? '-' : clean;
}

/** One RFC 5424 message, without framing. */
export function syslogMessage(event: ExportedEvent, hostname: string): string {
  const host = headerField(hostname, 255);
  const msgId = headerField(event.action, 32);
  return `<${AUDIT_PRI}>1 ${event.at} ${host} ${APP_NAME} - ${msgId} - ${event.line}`;
}

/** RFC 6587 §3.4.1 octet counting: the length in bytes of the message, a space, the message. */
export function octetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

export function syslogFrames(events: readonly ExportedEvent[], hostname: string): Buffer {
  return Buffer.concat(events.map((e) => octetCounted(syslogMessage(e, hostname))));
}
