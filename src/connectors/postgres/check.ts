/**
 * "Test connection": what a DBA needs to know to make the target work, one item per requirement.
 * Never throws for target problems; they become items.
 */
import pg from 'pg';
import type { CheckItem, CheckReport } from '../contract.js';
import type { PostgresConfig } from './config.js';
import { toTargetError } from './errors.js';
import { withClient } from './session.js';

/** pg_terminate_backend(pid, timeout) exists from 14 on. */
const MIN_VERSION_NUM = 140000;

interface Facts {
  user: string;
  superuser: boolean;
  createRole: boolean;
  signal: boolean;
  versionNum: number;
  version: string;
  tls: string | null;
}

async function gather(c: pg.ClientBase): Promise<Facts> {
  const { rows } = await c.query<Facts>(
    `SELECT current_user::text AS user,
            r.rolsuper AS superuser,
            r.rolcreaterole AS "createRole",
            (r.rolsuper OR pg_has_role(current_user, 'pg_signal_backend', 'MEMBER')) AS signal,
            current_setting('server_version_num')::int AS "versionNum",
            current_setting('server_version') AS version,
            (SELECT CASE WHEN s.ssl THEN s.version END FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()) AS tls
       FROM pg_roles r WHERE r.rolname = current_user`,
  );
  const facts = rows[0];
  if (!facts) throw new Error('the service account is not visible in pg_roles');
  return facts;
}

export async function checkTarget(pool: pg.Pool, config: PostgresConfig): Promise<CheckReport> {
  const where = `${config.host}:${config.port}`;
  const items: CheckItem[] = [];
  let facts: Facts;
  try {
    facts = await withClient(pool, gather);
  } catch (err) {
    const e = toTargetError(err, where);
    const code = (err as { code?: string })?.code;
    const authFailed = code === '28P01' || code === '28000';
    items.push({
      name: 'connection',
      ok: authFailed,
      message: authFailed ? `Reached ${where}` : `Could not connect to ${where}/${config.database}: ${e.message}`,
    });
    if (authFailed) {
      items.push({
        name: 'authentication',
        ok: false,
        message: `Authentication failed for the service account "${config.user}": check its password and that pg_hba.conf allows it from this host (${(err as Error).message})`,
      });
    }
    return { ok: false, items };
  }

  items.push({
    name: 'connection',
    ok: true,
    message: `Connected to ${where}/${config.database} ${facts.tls ? `over ${facts.tls}` : 'without TLS'}`,
  });
  items.push({ name: 'authentication', ok: true, message: `Signed in as "${facts.user}"` });
  items.push({
    name: 'create roles',
    ok: facts.superuser || facts.createRole,
    message: facts.superuser
      ? `"${facts.user}" is a superuser (CREATEROLE is enough and safer)`
      : facts.createRole
        ? `"${facts.user}" has CREATEROLE: it can create, enable and disable JIT accounts` +
          (facts.versionNum >= 160000
            ? ' (PostgreSQL 16+: it also needs ADMIN OPTION on each entitlement role: GRANT <role> TO ' +
              `${pg.escapeIdentifier(facts.user)} WITH ADMIN OPTION)`
            : '')
        : `"${facts.user}" lacks CREATEROLE, needed to create and disable JIT accounts: ALTER ROLE ${pg.escapeIdentifier(facts.user)} CREATEROLE`,
  });
  items.push({
    name: 'end sessions',
    ok: facts.signal,
    message: facts.signal
      ? `"${facts.user}" can terminate sessions of revoked accounts`
      : `"${facts.user}" cannot terminate sessions, so revoked users would stay connected: GRANT pg_signal_backend TO ${pg.escapeIdentifier(facts.user)}`,
  });
  items.push({
    name: 'server version',
    ok: facts.versionNum >= MIN_VERSION_NUM,
    message:
      facts.versionNum >= MIN_VERSION_NUM
        ? `PostgreSQL ${facts.version}`
        : `PostgreSQL ${facts.version} is too old: version 14 or newer is required`,
  });
  return { ok: items.every((i) => i.ok), items };
}
