/** Connection settings of one PostgreSQL target, and how they become a pg.Pool. */
import { z } from 'zod';
import type pg from 'pg';
import type { OutboundPolicy } from '../../net/outbound-policy.js';
import { pinnedStream, ScramOnlyClient } from './connect.js';
import { isLoopbackHost } from '../../net/outbound-policy.js';

const postgresSettings = z.strictObject({
  host: z.string().min(1).meta({ title: 'Host', description: 'Name or address of the PostgreSQL server.' }),
  port: z.number().int().min(1).max(65535).default(5432).meta({ title: 'Port' }),
  database: z.string().min(1).default('postgres').meta({ title: 'Database', description: 'Any database the service account may connect to.' }),
  /** The service account Timebox signs in as: needs CREATEROLE and pg_signal_backend. */
  user: z.string().min(1).meta({ title: 'Service account user', description: 'Needs CREATEROLE and pg_signal_backend.' }),
  password: z.string().min(1).meta({ title: 'Service account password', writeOnly: true }),
  /**
   * 'require' encrypts but trusts any certificate; 'verify-full' checks the CA and host name.
   * Unset: verify-full, except on this host (loopback), where disable. The service account's
   * statements (who gets which role, each JIT login's SCRAM verifier) cross this connection: anyone
   * on the path could read or change them, so a server elsewhere is reached over TLS unless told otherwise.
   */
  ssl: z
    .enum(['disable', 'require', 'verify-full'])
    .optional()
    .meta({ title: 'SSL', description: 'require: encrypt, trust any certificate; verify-full: check the certificate and host name. Default: verify-full, or disable for a server on this host.' }),
  /** PEM of the CA that signed the server certificate (verify-full); system CAs otherwise. */
  caPem: z
    .string()
    .min(1)
    .optional()
    .meta({ title: 'Server CA certificate (PEM, optional)', description: 'The CA that signed the server’s certificate, for verify-full; the system’s CAs when empty.', 'x-widget': 'pem' }),
  connectTimeoutMs: z.number().int().positive().default(5000).meta({ title: 'Connect timeout (ms)', 'x-advanced': true }),
  /** Send the password to a server that asks for it in clear text or as MD5 (old servers only). */
  allowInsecurePasswordAuth: z
    .boolean()
    .default(false)
    .meta({ title: 'Allow clear-text or MD5 password authentication', description: 'Old servers only: the password would be sent unprotected.', 'x-advanced': true }),
});

/**
 * The fields that decide where, or over what, the service password goes: changing any of them
 * requires the password again, so a stored secret never follows a changed address.
 */
export const postgresSecretBinding = {
  secrets: ['password'],
  bindings: ['host', 'port', 'ssl', 'caPem', 'allowInsecurePasswordAuth'],
};

/** A loopback name or address, or a Unix socket's folder. */
const onThisHost = (host: string) => host.startsWith('/') || isLoopbackHost(host);

export const postgresConfigSchema = postgresSettings.transform((c) => ({ ...c, ssl: c.ssl ?? (onThisHost(c.host) ? ('disable' as const) : ('verify-full' as const)) }));

export type PostgresConfig = z.output<typeof postgresConfigSchema>;

/** Server-side limit for every statement: a hung target must fail the call, not the scheduler. */
export const STATEMENT_TIMEOUT_MS = 15_000;

/** `outbound`: the server's address policy (absent only for connectors built outside a server). */
export function poolConfig(config: PostgresConfig, outbound?: OutboundPolicy): pg.PoolConfig {
  return {
    ...(config.allowInsecurePasswordAuth ? {} : { Client: ScramOnlyClient }),
    ...(outbound ? { stream: pinnedStream(outbound) } : {}),
    host: config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    password: config.password,
    ssl: sslOptions(config),
    max: 4,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: config.connectTimeoutMs,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    lock_timeout: STATEMENT_TIMEOUT_MS / 3,
    idle_in_transaction_session_timeout: STATEMENT_TIMEOUT_MS * 2,
    // Client-side too: statement_timeout cannot fire if the network is gone.
    query_timeout: STATEMENT_TIMEOUT_MS + 5_000,
    application_name: 'timebox',
  };
}

function sslOptions(config: PostgresConfig): pg.PoolConfig['ssl'] {
  switch (config.ssl) {
    case 'disable':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-full':
      return { rejectUnauthorized: true, servername: config.host, ...(config.caPem ? { ca: config.caPem } : {}) };
  }
}
