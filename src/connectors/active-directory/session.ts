/**
 * One LDAP session per connector call: connect over TLS (LDAPS or StartTLS), verify the DC's
 * certificate against caPem and the expected name, bind as the service account, run, unbind.
 * A fresh connection per call costs a TLS handshake (milliseconds) and means a DC restart or a
 * failover never leaves a half-dead shared connection behind.
 */
import { isIP } from 'node:net';
import tls from 'node:tls';
import { Attribute, Change, Client, type Entry } from 'ldapts';
import type { ConnectorContext } from '../contract.js';
import type { ConnectionConfig } from './config.js';
import { toTargetError } from './errors.js';

export type { Entry };

export interface Session {
  /** Runs one LDAP step; failures become TargetErrors that say what was being done. */
  step<T>(doing: string, fn: (client: Client) => Promise<T>): Promise<T>;
  search(doing: string, base: string, opts: SearchOpts): Promise<Entry[]>;
  /** A base search: the entry, or null when it does not exist (or does not match `filter`). */
  read(doing: string, dn: string, attributes: string[], filter?: string): Promise<Entry | null>;
  replace(doing: string, dn: string, values: Record<string, string | Buffer>): Promise<void>;
}

export interface SearchOpts {
  filter: string;
  attributes: string[];
  scope?: 'base' | 'one' | 'sub';
  paged?: boolean;
}

/** The name the certificate must carry: tlsServerName, else the URL's host. */
export function expectedServerName(config: ConnectionConfig): string {
  return config.tlsServerName ?? new URL(config.url).hostname.replace(/^\[|\]$/g, '');
}

/**
 * Chain verified against caPem only (not the system store: a public CA must not be able to
 * impersonate a DC), and the name checked by Node's own RFC 6125 rules against the expected name
 * rather than the address we connected to (Samba's and many AD certificates have no IP SAN).
 */
export function tlsOptions(config: ConnectionConfig): tls.ConnectionOptions {
  const name = expectedServerName(config);
  return {
    ca: config.caPem,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    ...(isIP(name) ? {} : { servername: name }),
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
  };
}

/**
 * The URL with its host replaced by the address the outbound policy checked, so the socket goes
 * where the check said; the certificate is still checked against the configured name (tlsOptions).
 */
async function connectUrl(config: ConnectionConfig, where: string): Promise<string> {
  if (!config.outbound) return config.url;
  const url = new URL(config.url);
  let pinned;
  try {
    pinned = await config.outbound.resolve(url.hostname.replace(/^\[|\]$/g, ''));
  } catch (err) {
    throw toTargetError(err, where, 'resolving the DC address');
  }
  url.hostname = pinned.family === 6 ? `[${pinned.address}]` : pinned.address;
  return url.toString().replace(/\/$/, '');
}

export function whereOf(config: ConnectionConfig): string {
  return config.url.replace(/\/$/, '');
}

export async function withSession<T>(
  config: ConnectionConfig,
  ctx: ConnectorContext,
  fn: (s: Session) => Promise<T>,
): Promise<T> {
  ctx.signal?.throwIfAborted();
  const where = whereOf(config);
  const client = new Client({
    url: await connectUrl(config, where),
    connectTimeout: config.connectTimeoutMs,
    timeout: config.operationTimeoutMs,
    // Only for ldaps://: ldapts treats any tlsOptions as "TLS from the first byte", which would
    // break StartTLS on an ldap:// URL.
    ...(config.startTls ? {} : { tlsOptions: tlsOptions(config) }),
  });
  // The caller gave up (shutdown, deadline): drop the connection so pending operations fail now.
  const onAbort = () => void client.unbind().catch(() => {});
  ctx.signal?.addEventListener('abort', onAbort, { once: true });

  const step = async <R>(doing: string, op: (c: Client) => Promise<R>): Promise<R> => {
    ctx.signal?.throwIfAborted();
    try {
      return await op(client);
    } catch (err) {
      throw toTargetError(err, where, doing);
    }
  };
  const session: Session = {
    step,
    search: (doing, base, o) =>
      step(doing, async (c) => {
        const { searchEntries } = await c.search(base, {
          scope: o.scope ?? 'sub',
          filter: o.filter,
          attributes: o.attributes,
          // Binary: read as bytes, not as text.
          explicitBufferAttributes: ['objectGUID'],
          ...(o.paged ? { paged: { pageSize: 500 } } : {}),
        });
        return searchEntries;
      }),
    read: (doing, dn, attributes, filter = '(objectClass=*)') =>
      step(doing, async (c) => {
        try {
          const { searchEntries } = await c.search(dn, { scope: 'base', filter, attributes });
          return searchEntries[0] ?? null;
        } catch (err) {
          if ((err as { code?: unknown }).code === 32) return null; // noSuchObject
          throw err;
        }
      }),
    replace: (doing, dn, values) =>
      step(doing, (c) =>
        c.modify(
          dn,
          Object.entries(values).map(
            ([type, value]) => new Change({ operation: 'replace', modification: new Attribute({ type, values: [value] as string[] | Buffer[] }) }),
          ),
        ),
      ),
  };

  try {
    if (config.startTls) await step('starting TLS (StartTLS)', (c) => c.startTLS(tlsOptions(config)));
    await step('binding as the service account', (c) => c.bind(config.bindDn, config.bindPassword));
    return await fn(session);
  } finally {
    ctx.signal?.removeEventListener('abort', onAbort);
    await client.unbind().catch(() => {});
  }
}

/** Adds (`add`) or removes (`delete`) one value of a multi-valued attribute such as `member`. */
export const valueChange = (operation: 'add' | 'delete', type: string, value: string) =>
  new Change({ operation, modification: new Attribute({ type, values: [value] }) });

/** First value of an attribute as text ('' when absent). */
export function text(entry: Entry, attr: string): string {
  const v = entry[attr] ?? entry[Object.keys(entry).find((k) => k.toLowerCase() === attr.toLowerCase()) ?? ''];
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? '' : Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
}

/** All values of an attribute as text. */
export function texts(entry: Entry, attr: string): string[] {
  const v = entry[attr] ?? entry[Object.keys(entry).find((k) => k.toLowerCase() === attr.toLowerCase()) ?? ''];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
}
