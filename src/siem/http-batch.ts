/**
 * Request bodies for HTTP collectors, built from the export lines themselves (never re-serialised):
 * `json` is a JSON array of the exported records; `splunk` is Splunk HEC's batch shape, one
 * `{"time","event","sourcetype","source"}` object per event, concatenated.
 */
import type { ExportedEvent } from './exported-event.js';

export const HTTP_FORMATS = ['json', 'splunk'] as const;
export type HttpFormat = (typeof HTTP_FORMATS)[number];

export const SPLUNK_SOURCETYPE = 'timebox:audit';
export const SPLUNK_SOURCE = 'timebox';

export function httpBatchBody(format: HttpFormat, events: readonly ExportedEvent[]): string {
  if (format === 'json') return `[${events.map((e) => e.line).join(',')}]`;
  return events
    .map((e) => {
      // HEC time: epoch seconds, milliseconds as decimals.
      const time = (Date.parse(e.at) / 1000).toFixed(3);
      return `{"time":${time},"event":${e.line},"sourcetype":${JSON.stringify(SPLUNK_SOURCETYPE)},"source":${JSON.stringify(SPLUNK_SOURCE)}}`;
    })
    .join('\n');
}

export function httpAuthorization(format: HttpFormat, token: string | undefined): string | undefined {
  if (token === undefined || token === '') return undefined;
  return format === 'splunk' ? `Splunk ${token}` : `Bearer ${token}`;
}
