/** Connection settings of one MariaDB target, and how they become a mysql2 pool. */
import net from 'node:net';
import { z } from 'zod';
import type { PoolOptions } from 'mysql2/promise';
import { connectThroughPolicy, type OutboundPolicy } from '../../net/outbound-policy.js';

/** Host patterns as MariaDB writes them ('%', '10.0.%', 'app.example.com'): no quotes, no spaces. */
const HOST_PATTERN = /^[A-Za-z0-9.%_:-]{1,255}$/;
/** The schema that holds Timebox's backstop events and its account markers. */
const SCHEMA = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export const mariadbConfigSchema = z.strictObject({
  host: z.string().min(1).meta({ title: 'Host', description: 'Name or address of the MariaDB or MySQL server.' }),
  port: z.number().int().min(1).max(65535).default(3306).meta({ title: 'Port' }),
  /** The service account Timebox signs in as (see docs/targets/mariadb.md for its privileges). */
  user: z.string().min(1).max(80).meta({ title: 'Service account user', description: 'Needs CREATE USER, the roles it hands out WITH ADMIN OPTION, EVENT and CONNECTION ADMIN.' }),
  password: z.string().min(1).meta({ title: 'Service account password', writeOnly: true }),
  /** 'verify-full' checks the CA and the server name; 'require' encrypts but trusts any certificate. */
  ssl: z
    .enum(['disable', 'require', 'verify-full'])
    .default('verify-full')
    .meta({ title: 'TLS', description: 'verify-full checks the CA and the server name; require encrypts but trusts any certificate.' }),
  /** PEM of the CA that signed the server certificate (verify-full); system CAs otherwise. */
  caPem: z
    .string()
    .min(1)
    .optional()
    .meta({ title: 'Server CA certificate (PEM, optional)', description: 'The CA that signed the server’s certificate; the system’s CAs when empty.', 'x-widget': 'pem' }),
  /** The host part of every JIT account ('ann_jit'@'<accountHost>'). */
  accountHost: z.string().regex(HOST_PATTERN, 'a MariaDB host pattern such as %, 10.0.% or app.example.com').default('%')
    .meta({ title: 'Host pattern of JIT accounts', description: 'Where JIT users may connect from: % for anywhere, or e.g. 10.0.%.' }),
  /** Schema of the backstop events and of the account-marker table `jit_accounts`. */
  schema: z.string().regex(SCHEMA, 'a plain schema name (letters, digits, underscores)').default('timebox')
    .meta({ title: 'Timebox schema', description: 'Holds the backstop events and account markers.', 'x-advanced': true }),
  connectTimeoutMs: z.number().int().positive().default(5000).meta({ title: 'Connect timeout (ms)', 'x-advanced': true }),
});

export type MariadbConfig = z.output<typeof mariadbConfigSchema>;

/** Changing where the service password goes requires the password again. */
export const mariadbSecretBinding = { secrets: ['password'], bindings: ['host', 'port', 'ssl', 'caPem'] };

/** Client-side bound on every statement: a hung server must fail the call, not the scheduler. */
export const STATEMENT_TIMEOUT_MS = 15_000;

export function poolOptions(config: MariadbConfig, outbound?: OutboundPolicy): PoolOptions {
  return {
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    connectionLimit: 4,
    maxIdle: 2,
    idleTimeout: 30_000,
    connectTimeout: config.connectTimeoutMs,
    // Values as data, never as SQL: one statement per call.
    multipleStatements: false,
    dateStrings: true,
    ...(outbound ? { stream: () => checkedSocket(outbound, config) } : {}),
    ...sslOptions(config),
  };
}

/** To the configured host through the outbound policy (names and literal addresses alike). */
function checkedSocket(outbound: OutboundPolicy, config: MariadbConfig): net.Socket {
  const socket = new net.Socket();
  return connectThroughPolicy(outbound, socket, (o) => socket.connect(o), config.host, config.port);
}

function sslOptions(config: MariadbConfig): Pick<PoolOptions, 'ssl'> {
  switch (config.ssl) {
    case 'disable':
      return {};
    case 'require':
      return { ssl: { rejectUnauthorized: false } };
    case 'verify-full':
      return { ssl: { rejectUnauthorized: true, verifyIdentity: true, ...(config.caPem ? { ca: config.caPem } : {}) } };
  }
}
