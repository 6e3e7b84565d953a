/**
 * The fields of each target kind's configuration (the server's config schemas), their client-side
 * checks, and the config object sent. The server validates again and its per-field messages are
 * placed at the fields they name.
 */
export type TargetKind = 'postgres' | 'active-directory' | 'active-directory-groups';

export type ConfigValues = Record<string, string>;
export type Flags = { startTls: boolean };

export const initialValues: Record<TargetKind, ConfigValues> = {
  postgres: { host: '', port: '5432', database: 'postgres', user: '', password: '', ssl: 'disable' },
  'active-directory': { url: '', bindDn: '', bindPassword: '', caPem: '', tlsServerName: '', baseDn: '', jitOu: '', upnSuffix: '' },
  'active-directory-groups': { url: '', bindDn: '', bindPassword: '', caPem: '', tlsServerName: '', baseDn: '' },
};

const dnLike = (s: string) => /^[A-Za-z]+=[^,]+(,[A-Za-z]+=[^,]+)*$/.test(s.trim());

export function configProblems(kind: TargetKind, v: ConfigValues): ConfigValues {
  const e: ConfigValues = {};
  if (kind === 'postgres') {
    const port = Number(v.port);
    if (!v.host?.trim()) e.host = 'Enter the host name or address.';
    if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) e.port = 'Enter a port from 1 to 65535.';
    if (!v.database?.trim()) e.database = 'Enter the database to connect to.';
    if (!v.user?.trim()) e.user = 'Enter the service account Timebox signs in as.';
    if (!v.password) e.password = 'Enter the service account’s password.';
    return e;
  }
  if (!/^ldaps?:\/\/[^/?#\s]+\/?$/i.test(v.url?.trim() ?? '')) e.url = 'Enter the domain controller as ldaps://dc1.example.com (or ldap://… with StartTLS).';
  if (!v.bindDn?.trim()) e.bindDn = 'Enter the service account (a DN or user@domain).';
  if (!v.bindPassword) e.bindPassword = 'Enter the service account’s password.';
  if (!v.caPem?.includes('-----BEGIN CERTIFICATE-----')) e.caPem = 'Paste the PEM of the CA that issued the domain controllers’ certificates.';
  if (!dnLike(v.baseDn ?? '')) e.baseDn = 'Enter a distinguished name such as DC=example,DC=com.';
  if (kind === 'active-directory' && !dnLike(v.jitOu ?? '')) e.jitOu = 'Enter the OU for JIT accounts, such as OU=JIT,DC=example,DC=com.';
  return e;
}

export function configOf(kind: TargetKind, v: ConfigValues, f: Flags): Record<string, unknown> {
  if (kind === 'postgres') {
    return { host: v.host!.trim(), port: Number(v.port), database: v.database!.trim(), user: v.user!.trim(), password: v.password, ssl: v.ssl };
  }
  const opt = (k: string) => (v[k]?.trim() ? { [k]: v[k]!.trim() } : {});
  return {
    url: v.url!.trim(),
    ...(f.startTls ? { startTls: true } : {}),
    bindDn: v.bindDn!.trim(),
    bindPassword: v.bindPassword,
    caPem: v.caPem!.trim(),
    ...opt('tlsServerName'),
    baseDn: v.baseDn!.trim(),
    ...(kind === 'active-directory' ? { jitOu: v.jitOu!.trim(), ...opt('upnSuffix') } : {}),
  };
}

/**
 * "invalid active-directory target configuration: config.url: …; config.jitOu: …" → per field.
 * Parts that name no known field stay together for the form.
 */
export function splitConfigError(message: string, fields: string[]): { byField: ConfigValues; rest: string | null } {
  const body = message.replace(/^invalid [\w-]+ target configuration: /, '');
  const byField: ConfigValues = {};
  const rest: string[] = [];
  for (const part of body.split('; ')) {
    const m = /^config\.(\w+)(?:\.[\w.]+)?: (.*)$/s.exec(part);
    if (m && fields.includes(m[1]!)) byField[m[1]!] = byField[m[1]!] ? `${byField[m[1]!]} ${m[2]}` : m[2]!;
    else rest.push(part);
  }
  return { byField, rest: rest.length && Object.keys(byField).length ? rest.join('; ') : Object.keys(byField).length ? null : message };
}
