/**
 * SIEM sinks from the server's settings (the operator's, platform-wide):
 *   TIMEBOX_SIEM_SYSLOG=tls://host:6514  (+ TIMEBOX_SIEM_SYSLOG_CA=<PEM file>)
 *   TIMEBOX_SIEM_HTTP=https://collector/path (+ _TOKEN, _FORMAT=json|splunk, _CA=<PEM file>)
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { SettingsError } from '../core/errors.js';
import { isInternalHost, type OutboundPolicy } from '../net/outbound-policy.js';
import type { ServerConfig } from '../server/config.js';
import { httpSink } from './http-sink.js';
import type { SiemSink } from './siem-streamer.js';
import { syslogSink } from './syslog-sink.js';

/** Parses `tls://host:port` (port defaults to 6514, RFC 5425); a message in words when it is not. */
export function parseSyslogUrl(raw: string): { host: string; port: number } | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be a URL like tls://siem.example.com:6514';
  }
  if (url.protocol !== 'tls:') return 'must start with tls:// (syslog is only sent over TLS)';
  if (url.hostname === '') return 'must name a host';
  if (url.pathname !== '' && url.pathname !== '/') return 'must not have a path';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? 6514 : Number(url.port);
  if (port === 0) return 'must name a port other than 0 (syslog over TLS is usually 6514)';
  return { host, port };
}

export function parseHttpCollectorUrl(raw: string): URL | string {
  try {
    const url = new URL(raw);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http(s):// URL';
    if (url.username || url.password) return 'must not carry credentials; use TIMEBOX_SIEM_HTTP_TOKEN';
    // The token and every audit event would cross the network in clear.
    if (url.protocol === 'http:' && !isInternalHost(url.hostname)) {
      return 'must use https; plain http is allowed only to localhost or an internal address written as one (10.0.0.5, not a name)';
    }
    return url;
  } catch {
    return 'must be a URL like https://collector.example.com/services/collector';
  }
}

/** A CA file: readable, and holding at least one certificate (Node would take any text as one). */
const readPem = (path: string | undefined, setting: string): string | undefined => {
  if (path === undefined) return undefined;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SettingsError(`invalid server settings: ${setting}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  const first = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem);
  try {
    if (!first) throw new Error('no certificate');
    new X509Certificate(first[0]);
  } catch (err) {
    throw new SettingsError(`invalid server settings: ${setting}: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, { cause: err });
  }
  return pem;
};

/** The configured sinks (none when no SIEM setting is given). Settings were validated by config.ts. */
export function siemSinksFromConfig(config: ServerConfig, policy: OutboundPolicy): SiemSink[] {
  const sinks: SiemSink[] = [];
  // Settings of a sink that is not configured would be silently ignored: the operator meant something.
  const orphans = [
    ...(!config.TIMEBOX_SIEM_SYSLOG && config.TIMEBOX_SIEM_SYSLOG_CA ? ['TIMEBOX_SIEM_SYSLOG_CA without TIMEBOX_SIEM_SYSLOG'] : []),
    ...(!config.TIMEBOX_SIEM_HTTP && config.TIMEBOX_SIEM_HTTP_TOKEN ? ['TIMEBOX_SIEM_HTTP_TOKEN without TIMEBOX_SIEM_HTTP'] : []),
    ...(!config.TIMEBOX_SIEM_HTTP && config.TIMEBOX_SIEM_HTTP_CA ? ['TIMEBOX_SIEM_HTTP_CA without TIMEBOX_SIEM_HTTP'] : []),
  ];
  if (orphans.length) throw new SettingsError(`invalid server settings: ${orphans.join('; ')}: set the sink, or remove what belongs to it`);
  if (config.TIMEBOX_SIEM_RETRY_BASE_MS > config.TIMEBOX_SIEM_RETRY_MAX_MS) {
    throw new SettingsError(`invalid server settings: TIMEBOX_SIEM_RETRY_BASE_MS (${config.TIMEBOX_SIEM_RETRY_BASE_MS}) is above TIMEBOX_SIEM_RETRY_MAX_MS (${config.TIMEBOX_SIEM_RETRY_MAX_MS})`);
  }
  /** An address the outbound policy refuses is known at start when it is written as one. */
  const refuseLiteral = (setting: string, host: string) => {
    const problem = policy.literalProblem(host);
    if (problem) throw new SettingsError(`invalid server settings: ${setting}: ${host} is ${problem}, which the server may not connect to unless TIMEBOX_OUTBOUND_ALLOW allows it`);
  };
  if (config.TIMEBOX_SIEM_SYSLOG) {
    const target = parseSyslogUrl(config.TIMEBOX_SIEM_SYSLOG);
    if (typeof target === 'string') throw new SettingsError(`invalid server settings: TIMEBOX_SIEM_SYSLOG: ${target}`);
    refuseLiteral('TIMEBOX_SIEM_SYSLOG', target.host);
    const ca = readPem(config.TIMEBOX_SIEM_SYSLOG_CA, 'TIMEBOX_SIEM_SYSLOG_CA');
    sinks.push(syslogSink({ ...target, ...(ca ? { ca } : {}), hostname: hostname(), policy }));
  }
  if (config.TIMEBOX_SIEM_HTTP) {
    const url = parseHttpCollectorUrl(config.TIMEBOX_SIEM_HTTP);
    if (typeof url === 'string') throw new SettingsError(`invalid server settings: TIMEBOX_SIEM_HTTP: ${url}`);
    refuseLiteral('TIMEBOX_SIEM_HTTP', url.hostname.replace(/^\[(.*)\]$/, '$1'));
    const ca = readPem(config.TIMEBOX_SIEM_HTTP_CA, 'TIMEBOX_SIEM_HTTP_CA');
    sinks.push(
      httpSink({
        url,
        format: config.TIMEBOX_SIEM_HTTP_FORMAT,
        ...(config.TIMEBOX_SIEM_HTTP_TOKEN ? { token: config.TIMEBOX_SIEM_HTTP_TOKEN } : {}),
        ...(ca ? { ca } : {}),
        policy,
      }),
    );
  }
  return sinks;
}
