/**
 * Kinds reached with a service account: PostgreSQL (src/connectors/postgres/config.ts) and Active
 * Directory, for JIT accounts or group membership (src/connectors/active-directory/config.ts).
 */
import type { ConfigValues } from './target-kinds';

export type ConnectionKind = 'postgres' | 'active-directory' | 'active-directory-groups';

const adConnection = { url: '', startTls: 'false', bindDn: '', bindPassword: '', caPem: '', tlsServerName: '', baseDn: '' };

export const initialValues: Record<ConnectionKind, ConfigValues> = {
  postgres: { host: '', port: '5432', database: 'postgres', user: '', password: '', ssl: 'disable', caPem: '' },
  'active-directory': { ...adConnection, jitOu: '', upnSuffix: '', deleteAfterIdleDays: '' },
  'active-directory-groups': { ...adConnection },
};

const dnLike = (s: string) => /^[A-Za-z]+=[^,]+(,[A-Za-z]+=[^,]+)*$/.test(s.trim());

export function configProblems(kind: ConnectionKind, v: ConfigValues): ConfigValues {
  const e: ConfigValues = {};
  if (kind === 'postgres') {
    const port = Number(v.port);
    if (!v.host?.trim()) e.host = 'Enter the host name or address.';
    if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) e.port = 'Enter a port from 1 to 65535.';
    if (!v.database?.trim()) e.database = 'Enter the database to connect to.';
    if (!v.user?.trim()) e.user = 'Enter the service account Timebox signs in as.';
    if (!v.password) e.password = 'Enter the service account’s password.';
    if (v.caPem?.trim() && !v.caPem.includes('-----BEGIN CERTIFICATE-----')) e.caPem = 'Paste a PEM certificate (-----BEGIN CERTIFICATE-----), or leave it empty.';
    return e;
  }
  if (!/^ldaps?:\/\/[^/?#\s]+\/?$/i.test(v.url?.trim() ?? '')) e.url = 'Enter the domain controller as ldaps://dc1.example.com (or ldap://… with StartTLS).';
  if (!v.bindDn?.trim()) e.bindDn = 'Enter the service account (a DN or user@domain).';
  if (!v.bindPassword) e.bindPassword = 'Enter the service account’s password.';
  if (!v.caPem?.includes('-----BEGIN CERTIFICATE-----')) e.caPem = 'Paste the PEM of the CA that issued the domain controllers’ certificates.';
  if (!dnLike(v.baseDn ?? '')) e.baseDn = 'Enter a distinguished name such as DC=example,DC=com.';
  if (kind === 'active-directory') {
    if (!dnLike(v.jitOu ?? '')) e.jitOu = 'Enter the OU for JIT accounts, such as OU=JIT,DC=example,DC=com.';
    const days = v.deleteAfterIdleDays?.trim();
    if (days && !(/^\d+$/.test(days) && Number(days) >= 1 && Number(days) <= 3650)) e.deleteAfterIdleDays = 'Enter a number of days from 1 to 3650, or leave it empty.';
  }
  return e;
}

export function configOf(kind: ConnectionKind, v: ConfigValues): Record<string, unknown> {
  const opt = (k: string) => (v[k]?.trim() ? { [k]: v[k]!.trim() } : {});
  if (kind === 'postgres') {
    return {
      host: v.host!.trim(),
      port: Number(v.port),
      database: v.database!.trim(),
      user: v.user!.trim(),
      password: v.password,
      ssl: v.ssl,
      ...(v.ssl === 'verify-full' ? opt('caPem') : {}),
    };
  }
  return {
    url: v.url!.trim(),
    ...(v.startTls === 'true' ? { startTls: true } : {}),
    bindDn: v.bindDn!.trim(),
    bindPassword: v.bindPassword,
    caPem: v.caPem!.trim(),
    ...opt('tlsServerName'),
    baseDn: v.baseDn!.trim(),
    ...(kind === 'active-directory'
      ? { jitOu: v.jitOu!.trim(), ...opt('upnSuffix'), ...(v.deleteAfterIdleDays?.trim() ? { deleteAfterIdleDays: Number(v.deleteAfterIdleDays) } : {}) }
      : {}),
  };
}
