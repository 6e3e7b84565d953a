/**
 * How to connect with a one-time credential: where (host, port, database or domain), a command a
 * person would type, and when access ends. Written once here; the API hands it out with the
 * credential and the dashboard and CLI only display it.
 *
 * Only connection fields are read from the target's config (never its service account). The
 * command is text to copy, never run by Timebox; a value with characters a shell would treat
 * specially is single-quoted so that pasting it cannot run anything else.
 */

export interface ConnectInfo {
  host: string | null;
  port: number | null;
  database: string | null;
  domain: string | null;
  command: string | null;
  /** ISO 8601, UTC. */
  endsAt: string;
}

export interface ConnectInput {
  kind: string;
  /** The target's (decrypted) config; only its connection fields are read. */
  config: unknown;
  /** The account the credential is for. */
  username: string;
  endsAt: Date;
  /** Host targets: the enrolled agent's host name. */
  agentHostname?: string | null;
}

const SAFE = /^[A-Za-z0-9._@%+=:,/-]+$/;
/** A value that can stand unquoted inside a libpq conninfo string (no space, quote, backslash or '='). */
const CONNINFO_SAFE = /^[A-Za-z0-9._@%+:,/-]+$/;
/** Windows has other quoting rules: the runas line is offered only for plain names. */
const WINDOWS_SAFE = /^[A-Za-z0-9._-]+$/;

/** POSIX shell quoting for display: plain words stay as they are. */
export function shellWord(value: string): string {
  if (SAFE.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 65536 ? v : null);
const field = (config: unknown, key: string): unknown =>
  config !== null && typeof config === 'object' ? (config as Record<string, unknown>)[key] : undefined;

function postgres(config: unknown, user: string): Omit<ConnectInfo, 'endsAt'> {
  const host = str(field(config, 'host'));
  const port = num(field(config, 'port')) ?? 5432;
  const database = str(field(config, 'database')) ?? 'postgres';
  const ssl = str(field(config, 'ssl'));
  const sslmode = ssl === 'require' || ssl === 'verify-full' ? ssl : null;
  if (!host) return { host: null, port, database, domain: null, command: null };
  const parts: [string, string][] = [['host', host], ['port', String(port)], ['user', user], ['dbname', database]];
  if (sslmode) parts.push(['sslmode', sslmode]);
  // A conninfo string when every value is a plain word; otherwise flags, each quoted on its own.
  const command = parts.every(([, v]) => CONNINFO_SAFE.test(v))
    ? `psql "${parts.map(([k, v]) => `${k}=${v}`).join(' ')}"`
    : `${sslmode ? `PGSSLMODE=${sslmode} ` : ''}psql -h ${shellWord(host)} -p ${port} -U ${shellWord(user)} -d ${shellWord(database)}`;
  return { host, port, database, domain: null, command };
}

function mariadb(config: unknown, user: string): Omit<ConnectInfo, 'endsAt'> {
  const host = str(field(config, 'host'));
  const port = num(field(config, 'port')) ?? 3306;
  if (!host) return { host: null, port, database: null, domain: null, command: null };
  // -p with no value: the client asks for the password instead of keeping it in the shell history.
  return { host, port, database: null, domain: null, command: `mariadb -h ${shellWord(host)} -P ${port} -u ${shellWord(user)} -p` };
}

/** `DC=corp,DC=example,DC=com` → `corp.example.com`. */
export function dnsDomainOf(baseDn: string): string | null {
  const labels = baseDn
    .split(',')
    .map((rdn) => /^\s*dc\s*=\s*(.+?)\s*$/i.exec(rdn)?.[1])
    .filter((v): v is string => v !== undefined);
  return labels.length ? labels.join('.').toLowerCase() : null;
}

function activeDirectory(config: unknown, user: string): Omit<ConnectInfo, 'endsAt'> {
  const url = str(field(config, 'url'));
  const baseDn = str(field(config, 'baseDn'));
  const domain = baseDn ? dnsDomainOf(baseDn) : null;
  let host: string | null = null;
  let port: number | null = null;
  const m = url ? /^(ldaps?):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/i.exec(url) : null;
  if (m) {
    host = m[2]!;
    port = m[3] ? Number(m[3]) : m[1]!.toLowerCase() === 'ldaps' ? 636 : 389;
  }
  // Windows: work as the JIT account against the domain from a machine that is not joined to it.
  const command = domain && WINDOWS_SAFE.test(domain) && WINDOWS_SAFE.test(user) ? `runas /netonly /user:${user}@${domain} cmd` : null;
  return { host, port, database: null, domain, command };
}

function host(hostname: string | null | undefined, user: string): Omit<ConnectInfo, 'endsAt'> {
  const h = str(hostname);
  return { host: h, port: null, database: null, domain: null, command: h ? `ssh ${shellWord(`${user}@${h}`)}` : null };
}

const nothing = { host: null, port: null, database: null, domain: null, command: null };

export function connectInfo(input: ConnectInput): ConnectInfo {
  const { kind, config, username, agentHostname } = input;
  const where =
    kind === 'postgres'
      ? postgres(config, username)
      : kind === 'mariadb'
        ? mariadb(config, username)
        : kind === 'active-directory' || kind === 'active-directory-groups'
          ? activeDirectory(config, username)
          : kind === 'linux-agent' || kind === 'linux-agent-users'
            ? host(agentHostname, username)
            : nothing;
  return { ...where, endsAt: input.endsAt.toISOString() };
}
