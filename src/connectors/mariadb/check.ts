/**
 * "Test connection": what a DBA needs to know to make the target work, one item per requirement,
 * each naming the statement that fixes it. Never throws for target problems; they become items.
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import type { CheckItem, CheckReport } from '../contract.js';
import { grantableRoles, rows } from './catalog.js';
import type { MariadbConfig } from './config.js';
import { toTargetError } from './errors.js';
import { withConnection } from './session.js';

interface Facts {
  me: string;
  version: string;
  tls: string;
  scheduler: string;
  privileges: Set<string>;
  eventOnSchema: boolean;
  readsUsers: boolean;
  setsDefaultRole: boolean;
  markerTable: string | null;
  roles: string[];
}

async function canRun(c: PoolConnection, sql: string): Promise<string | null> {
  try {
    await rows(c, sql);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

async function gather(c: PoolConnection, cfg: MariadbConfig): Promise<Facts> {
  const [base] = await rows<{ me: string; version: string; scheduler: string }>(
    c,
    'SELECT CURRENT_USER() AS me, VERSION() AS version, @@event_scheduler AS scheduler',
  );
  if (!base) throw new Error('the server returned no session facts');
  const [tls] = await rows<{ Value: string }>(c, "SHOW SESSION STATUS LIKE 'Ssl_version'");
  const at = base.me.lastIndexOf('@');
  const grantee = `'${base.me.slice(0, at)}'@'${base.me.slice(at + 1)}'`;
  const global = await rows<{ p: string }>(c, 'SELECT PRIVILEGE_TYPE AS p FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ?', [grantee]);
  const onSchema = await rows<{ p: string }>(
    c,
    "SELECT PRIVILEGE_TYPE AS p FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ? AND TABLE_SCHEMA = ? AND PRIVILEGE_TYPE = 'EVENT'",
    [grantee, cfg.schema],
  );
  const privileges = new Set(global.map((r) => r.p));
  const readsUsers = (await canRun(c, 'SELECT 1 FROM mysql.global_priv LIMIT 0')) === null && (await canRun(c, 'SELECT 1 FROM mysql.roles_mapping LIMIT 0')) === null;
  const onMysql = await rows(
    c,
    "SELECT 1 FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ? AND TABLE_SCHEMA = 'mysql' AND PRIVILEGE_TYPE = 'UPDATE'",
    [grantee],
  );
  const table = `\`${cfg.schema}\`.jit_accounts`;
  const markerTable =
    (await canRun(c, `SELECT user, host, marker FROM ${table} LIMIT 0`)) ??
    (await canRun(c, `DELETE FROM ${table} WHERE user = '' AND FALSE`));
  return {
    me: base.me,
    version: base.version,
    tls: tls?.Value ?? '',
    scheduler: String(base.scheduler),
    privileges,
    eventOnSchema: onSchema.length > 0 || privileges.has('EVENT'),
    readsUsers,
    setsDefaultRole: onMysql.length > 0 || privileges.has('UPDATE'),
    markerTable,
    roles: readsUsers ? (await grantableRoles(c)).map((r) => r.role) : [],
  };
}

export async function checkTarget(pool: Pool, cfg: MariadbConfig): Promise<CheckReport> {
  const where = `${cfg.host}:${cfg.port}`;
  let facts: Facts;
  try {
    facts = await withConnection(pool, (c) => gather(c, cfg));
  } catch (err) {
    const e = toTargetError(err, where);
    const authFailed = (err as { code?: string }).code === 'ER_ACCESS_DENIED_ERROR';
    const items: CheckItem[] = [
      { name: 'connection', ok: authFailed, message: authFailed ? `Reached ${where}` : `Could not connect to ${where}: ${e.message}` },
    ];
    if (authFailed) {
      items.push({ name: 'authentication', ok: false, message: `Authentication failed for the service account "${cfg.user}": check its password and host (${(err as Error).message})` });
    }
    return { ok: false, items };
  }
  const svc = `'${facts.me.slice(0, facts.me.lastIndexOf('@'))}'@'${facts.me.slice(facts.me.lastIndexOf('@') + 1)}'`;
  const has = (p: string) => facts.privileges.has(p);
  const mariadb = /mariadb/i.test(facts.version);
  const [major = 0, minor = 0] = facts.version.split(/[.-]/).map(Number);
  const versionOk = mariadb && (major > 10 || (major === 10 && minor >= 5));
  const items: CheckItem[] = [
    { name: 'connection', ok: true, message: `Connected to ${where} ${facts.tls ? `over ${facts.tls}` : 'without TLS'}` },
    { name: 'authentication', ok: true, message: `Signed in as ${svc}` },
    {
      name: 'server version',
      ok: versionOk,
      message: versionOk ? `MariaDB ${facts.version}` : `${facts.version} is not supported: MariaDB 10.5 or newer is required (MySQL is untested)`,
    },
    {
      name: 'create users',
      ok: has('CREATE USER'),
      message: has('CREATE USER') ? `${svc} can create, lock and drop JIT users` : `${svc} lacks CREATE USER, needed to create and lock JIT users: GRANT CREATE USER ON *.* TO ${svc}`,
    },
    {
      name: 'end sessions',
      ok: (has('CONNECTION ADMIN') || has('SUPER')) && has('PROCESS'),
      message: (has('CONNECTION ADMIN') || has('SUPER')) && has('PROCESS')
        ? `${svc} can see and end sessions of revoked users`
        : `${svc} cannot ${has('PROCESS') ? 'end' : 'see'} other users' sessions, so revoked users would stay connected: GRANT ${has('PROCESS') ? 'CONNECTION ADMIN' : 'PROCESS, CONNECTION ADMIN'} ON *.* TO ${svc}`,
    },
    {
      name: 'read accounts',
      ok: facts.readsUsers,
      message: facts.readsUsers
        ? `${svc} can read users and role grants`
        : `${svc} cannot read mysql.global_priv and mysql.roles_mapping: GRANT SELECT ON mysql.global_priv TO ${svc}; GRANT SELECT ON mysql.roles_mapping TO ${svc}`,
    },
    {
      name: 'default roles',
      ok: facts.setsDefaultRole,
      message: facts.setsDefaultRole
        ? `${svc} can set the default role of JIT users`
        : `${svc} cannot set other users' default role (MariaDB checks UPDATE on the mysql schema for SET DEFAULT ROLE … FOR): GRANT UPDATE ON mysql.* TO ${svc}`,
    },
    {
      name: 'backstop events',
      ok: facts.eventOnSchema,
      message: facts.eventOnSchema
        ? `${svc} can schedule the backstop events in \`${cfg.schema}\``
        : `${svc} lacks EVENT on \`${cfg.schema}\`, needed for the backstop that locks accounts even when Timebox is down: GRANT EVENT ON \`${cfg.schema}\`.* TO ${svc}`,
    },
    {
      name: 'event scheduler',
      ok: facts.scheduler === 'ON',
      message: facts.scheduler === 'ON'
        ? 'The event scheduler is on: the server locks each account at its end by itself'
        : `The event scheduler is ${facts.scheduler}: backstop events would never run. SET GLOBAL event_scheduler = ON (and event_scheduler = ON in the server's configuration)`,
    },
    {
      name: 'account markers',
      ok: facts.markerTable === null,
      message: facts.markerTable === null
        ? `\`${cfg.schema}\`.jit_accounts records which users are Timebox's`
        : `\`${cfg.schema}\`.jit_accounts is missing or not writable (${facts.markerTable}): create it with the setup SQL of the MariaDB target's documentation`,
    },
    {
      name: 'roles',
      ok: facts.roles.length > 0,
      message: facts.roles.length > 0
        ? `${svc} can grant ${facts.roles.length} role(s) (held WITH ADMIN OPTION): ${facts.roles.slice(0, 10).join(', ')}${facts.roles.length > 10 ? '…' : ''}`
        : `${svc} holds no role WITH ADMIN OPTION, so there is nothing to grant: GRANT <role> TO ${svc} WITH ADMIN OPTION`,
    },
  ];
  return { ok: items.every((i) => i.ok), items };
}
