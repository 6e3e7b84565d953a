/**
 * Settings of an Active Directory target. TLS is mandatory: the bind password and every JIT
 * password cross this connection, and AD refuses password writes without it anyway.
 */
import { z } from 'zod';
import type { OutboundPolicy } from '../../net/outbound-policy.js';
import { dnProblem, isWithin } from './dn.js';

const dn = (what: string) =>
  z.string().superRefine((value, ctx) => {
    const problem = dnProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: `${what} must be a distinguished name such as "OU=JIT,DC=example,DC=com": ${problem}` });
  });

const connectionShape = {
  /** ldaps://dc1.example.com (port 636), or ldap://dc1.example.com with startTls: true. */
  url: z.string().regex(/^ldaps?:\/\/[^/?#\s]+\/?$/i, 'url must look like ldaps://dc1.example.com or ldap://dc1.example.com:389')
    .meta({ title: 'Domain controller URL', description: 'ldaps:// (port 636), or ldap:// with StartTLS.', examples: ['ldaps://dc1.example.com'] }),
  startTls: z.boolean().default(false).meta({ title: 'Use StartTLS (ldap:// only)' }),
  /** The service account: a DN, or a UPN such as svc-timebox@example.com. */
  bindDn: z.string().min(1).meta({ title: 'Service account (bind DN)', examples: ['svc-timebox@example.com'] }),
  bindPassword: z.string().min(1).meta({ title: 'Service account password', writeOnly: true }),
  /** PEM of the CA that issued the DCs' LDAPS certificates. The chain is always verified. */
  caPem: z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'caPem must be a PEM certificate (-----BEGIN CERTIFICATE-----)' })
    .meta({ title: 'CA certificate (PEM)', description: 'The CA that issued the domain controllers’ certificates; the chain is always checked.', 'x-widget': 'pem' }),
  /** Name to expect in the DC certificate when `url` uses an IP address or an alias. */
  tlsServerName: z
    .string()
    .min(1)
    .optional()
    .meta({ title: 'TLS server name (optional)', description: 'The name in the DC’s certificate, when the URL uses an IP address or alias.' }),
  /** Groups (and, for the group-membership kind, users) are only looked for under this DN. */
  baseDn: dn('baseDn').meta({ title: 'Base DN', description: 'Groups are looked for under it.', examples: ['DC=example,DC=com'] }),
  connectTimeoutMs: z.number().int().positive().max(120_000).default(5_000).meta({ title: 'Connect timeout (ms)', 'x-advanced': true }),
  operationTimeoutMs: z.number().int().positive().max(600_000).default(15_000).meta({ title: 'Operation timeout (ms)', 'x-advanced': true }),
};

/**
 * The fields that decide where, or to whom, the bind password (and every JIT password) goes:
 * changing any of them requires bindPassword again, so a stored secret never follows a changed address.
 */
export const activeDirectorySecretBinding = {
  secrets: ['bindPassword'],
  bindings: ['url', 'startTls', 'caPem', 'tlsServerName'],
};

type Conn = { url: string; startTls: boolean };
function requireTls(c: Conn, ctx: z.RefinementCtx) {
  const ldaps = /^ldaps:/i.test(c.url);
  if (!ldaps && !c.startTls) {
    ctx.addIssue({
      code: 'custom',
      path: ['url'],
      message:
        'plain LDAP would send the service account password and JIT passwords in clear text (and AD refuses password writes without TLS): use ldaps://… or set startTls: true',
    });
  }
  if (ldaps && c.startTls) {
    ctx.addIssue({ code: 'custom', path: ['startTls'], message: 'startTls applies to ldap:// URLs only; ldaps:// is already TLS' });
  }
}

export const activeDirectoryConfigSchema = z
  .strictObject({
    ...connectionShape,
    /** The OU where JIT accounts are created; the service account needs delegated rights on it. */
    jitOu: dn('jitOu').meta({
      title: 'OU for JIT accounts',
      description: 'Inside the base DN; the service account needs rights on it.',
      examples: ['OU=JIT,DC=example,DC=com'],
    }),
    /** UPN suffix of JIT accounts (user@suffix); the domain's DNS name when not set. */
    upnSuffix: z
      .string()
      .regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, 'upnSuffix must be a DNS name such as example.com')
      .optional()
      .meta({ title: 'UPN suffix (optional)', description: 'JIT accounts sign in as name@suffix; the domain’s name when empty.' }),
    /** Delete JIT accounts that stayed disabled this many days (checked at each revoke). */
    deleteAfterIdleDays: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .optional()
      .meta({ title: 'Delete disabled accounts after (days, optional)', description: 'A JIT account left disabled this long is deleted; kept when empty.' }),
  })
  .superRefine((c, ctx) => {
    requireTls(c, ctx);
    if (!dnProblem(c.jitOu) && !dnProblem(c.baseDn) && !isWithin(c.jitOu, c.baseDn)) {
      ctx.addIssue({ code: 'custom', path: ['jitOu'], message: `jitOu ${c.jitOu} must be inside baseDn ${c.baseDn}` });
    }
  });

export type ActiveDirectoryConfig = z.output<typeof activeDirectoryConfigSchema>;

export const activeDirectoryGroupsConfigSchema = z.strictObject(connectionShape).superRefine(requireTls);

export type ActiveDirectoryGroupsConfig = z.output<typeof activeDirectoryGroupsConfigSchema>;

/**
 * What the session layer needs from either kind; `outbound` (the server's address policy) is
 * added by the connector instance, never part of the stored settings.
 */
export type ConnectionConfig = ActiveDirectoryGroupsConfig & { outbound?: OutboundPolicy };
