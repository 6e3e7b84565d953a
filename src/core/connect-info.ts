/**
 * How to connect with a revealed credential: where (host, port, database or domain), one ready
 * command to paste, and when the access ends. Pure: it reads only the non-secret settings of the
 * target it is given. The command is text for a person to read and copy, never run by Timebox;
 * values in it are quoted so that a pasted command means what it shows.
 */

export interface ConnectInfo {
  host: string | null;
  port: number | null;
  database: string | null;
  /** Active Directory: the DNS domain to sign in to (from the base DN). */
  domain: string | null;
  command: string | null;
  /** ISO 8601, UTC. */
  endsAt: string;
}

export interface ConnectInput {
  kind: string;
  /** The target's settings (only host, port, database, url and baseDn are read). */
  config: Record<string, unknown>;
  username: string;
  endsAt: Date;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);

/** A libpq connection-string value: quoted when it holds a space, a quote or a backslash. */
const libpq = (v: string) => (/^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'`);
/** A POSIX shell word: single-quoted unless it is plainly safe. */
const shell = (v: string) => (/^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);

/** `DC=corp,DC=example,DC=com` → `corp.example.com`. */
function domainOf(baseDn: string | null): string | null {
  if (!baseDn) return null;
  const parts = baseDn
    .split(',')
    .map((p) => p.trim())
    .filter((p) => /^dc=/i.test(p))
    .map((p) => p.slice(3));
  return parts.length ? parts.join('.') : null;
}

/** `ldaps://dc1.example.com:636` → `dc1.example.com`. */
function hostOfUrl(url: string | null): string | null {
  const m = url ? /^[a-z]+:\/\/([^/:?#]+)/i.exec(url) : null;
  return m?.[1] ?? null;
}

export function connectInfo(input: ConnectInput): ConnectInfo {
  const { config: c, username } = input;
  const endsAt = input.endsAt.toISOString();
  const none = { host: null, port: null, database: null, domain: null, command: null, endsAt };
  switch (input.kind) {
    case 'postgres': {
      const host = str(c.host);
      const port = num(c.port) ?? 5432;
      const database = str(c.database) ?? 'postgres';
      if (!host) return none;
      const conninfo = `host=${libpq(host)} port=${port} dbname=${libpq(database)} user=${libpq(username)}`;
      return { ...none, host, port, database, command: `psql ${shell(conninfo)}` };
    }
    case 'mariadb': {
      const host = str(c.host);
      const port = num(c.port) ?? 3306;
      if (!host) return none;
      return { ...none, host, port, command: `mariadb -h ${shell(host)} -P ${port} -u ${shell(username)} -p` };
    }
    case 'active-directory':
    case 'active-directory-groups': {
      const domain = domainOf(str(c.baseDn));
      return { ...none, host: hostOfUrl(str(c.url)), domain };
    }
    default:
      return none;
  }
}
