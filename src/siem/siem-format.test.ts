import { describe, expect, it } from 'vitest';
import { backoffMs } from './backoff.js';
import { httpAuthorization, httpBatchBody } from './http-batch.js';
import { parseHttpCollectorUrl, parseSyslogUrl } from './siem-config.js';
import { headerField, octetCounted, syslogFrames, syslogMessage } from './syslog-frame.js';

const line = (o: Record<string, unknown>) => JSON.stringify(o);
const ev = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  at: '2026-01-02T03:04:05.678Z',
  action: 'grant.activated',
  line: line({ seq: '7', id, at: '2026-01-02T03:04:05.678Z', reason: 'über ✓', ...extra }),
});

describe('RFC 5424 messages in octet-counted framing', () => {
  it('carries the export line as MSG after a fixed header', () => {
    const e = ev('e1');
    expect(syslogMessage(e, 'tb-1')).toBe(`<110>1 2026-01-02T03:04:05.678Z tb-1 timebox - grant.activated - ${e.line}`);
  });

  it('counts bytes, not characters', () => {
    const framed = octetCounted('ü✓');
    expect(framed.toString('utf8')).toBe('5 ü✓');
  });

  it('frames a batch so that each message can be cut out by its count', () => {
    const events = [ev('a'), ev('b', { after: { note: 'x'.repeat(5000) } })];
    let buf = syslogFrames(events, 'h');
    const out: string[] = [];
    while (buf.length > 0) {
      const sp = buf.indexOf(0x20);
      const len = Number(buf.subarray(0, sp).toString('ascii'));
      out.push(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
      buf = buf.subarray(sp + 1 + len);
    }
    expect(out).toHaveLength(2);
    expect(out[0]!.endsWith(events[0]!.line)).toBe(true);
    expect(out[1]!.endsWith(events[1]!.line)).toBe(true);
  });

  it('keeps header fields printable ASCII, bounded, or NILVALUE', () => {
    expect(headerField('a b\tc', 32)).toBe('abc');
    expect(headerField('x'.repeat(40), 32)).toHaveLength(32);
    expect(headerField('   ', 32)).toBe('-');
    expect(headerField('ünï', 32)).toBe('n');
  });
});

describe('HTTP collector bodies', () => {
  const events = [ev('a'), ev('b')];

  it('json: an array of the export records, byte for byte', () => {
    const body = httpBatchBody('json', events);
    expect(body).toBe(`[${events[0]!.line},${events[1]!.line}]`);
    expect(JSON.parse(body)).toEqual(events.map((e) => JSON.parse(e.line)));
  });

  it('splunk: one HEC event object per event with the record as `event`', () => {
    const body = httpBatchBody('splunk', events);
    const objects = body.split('\n').map((l) => JSON.parse(l));
    expect(objects).toEqual(
      events.map((e) => ({ time: Date.parse(e.at) / 1000, event: JSON.parse(e.line), sourcetype: 'timebox:audit', source: 'timebox' })),
    );
    expect(body).toContain(`"event":${events[0]!.line},`);
  });

  it('authorization per format, none without a token', () => {
    expect(httpAuthorization('splunk', 'abc')).toBe('Splunk abc');
    expect(httpAuthorization('json', 'abc')).toBe('Bearer abc');
    expect(httpAuthorization('json', undefined)).toBeUndefined();
  });
});

describe('settings', () => {
  it('syslog: tls:// only, default port 6514', () => {
    expect(parseSyslogUrl('tls://siem.example.com')).toEqual({ host: 'siem.example.com', port: 6514 });
    expect(parseSyslogUrl('tls://[::1]:7000')).toEqual({ host: '::1', port: 7000 });
    expect(parseSyslogUrl('tcp://siem.example.com:514')).toMatch(/tls:\/\//);
    expect(parseSyslogUrl('siem.example.com')).toMatch(/tls:\/\//);
    expect(parseSyslogUrl('tls://siem.example.com/x')).toMatch(/path/);
  });

  it('http: http(s) without credentials in the URL', () => {
    expect(parseHttpCollectorUrl('https://c.example.com/services/collector')).toBeInstanceOf(URL);
    expect(parseHttpCollectorUrl('ftp://c.example.com')).toMatch(/http/);
    expect(parseHttpCollectorUrl('https://u:p@c.example.com')).toMatch(/TOKEN/);
    // Plain http carries the token and the audit stream in clear: only inside.
    expect(parseHttpCollectorUrl('http://127.0.0.1:8088/collector')).toBeInstanceOf(URL);
    expect(parseHttpCollectorUrl('http://10.1.2.3/collector')).toBeInstanceOf(URL);
    expect(parseHttpCollectorUrl('http://8.8.8.8/collector')).toMatch(/must use https/);
    expect(parseHttpCollectorUrl('http://siem.example.com/collector')).toMatch(/must use https/);
  });
});

describe('backoff', () => {
  it('doubles per failure up to the cap, jittered between half and all of the step', () => {
    expect(backoffMs(1, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffMs(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoffMs(4, 1000, 60_000, () => 1)).toBe(8000);
    expect(backoffMs(40, 1000, 60_000, () => 1)).toBe(60_000);
    expect(backoffMs(40, 1000, 60_000, () => 0)).toBe(30_000);
  });
});
