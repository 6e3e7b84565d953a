/** What a sink sends: an event's export line (audit-query.ts `exportLine`) with the fields framing needs. */
export interface ExportedEvent {
  /** The event's uuid: receivers dedupe on it (delivery is at least once). */
  id: string;
  /** ISO time of the event. */
  at: string;
  action: string;
  /** The exact `GET …/audit/export` line of the event. */
  line: string;
}
