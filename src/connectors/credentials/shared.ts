/**
 * What the three credential kinds (ssh-certificate, x509-certificate, security-token) share: a
 * grant issues one credential valid exactly for the grant's span, recorded against the grant; an
 * early end revokes it (KRL, CRL, introspection all read the same record); verify looks for any
 * credential of the grant that still works. There is no account on a target: the account name is
 * the requester's identity (their e-mail address).
 */
import { AppError, invalid, transient } from '../../core/errors.js';
import { findings as finding } from '../../core/findings.js';
import type { AccountNameRules } from '../../core/target-kinds.js';
import { systemClock, type Clock } from '../../core/clock.js';
import type { CredentialEngines } from '../../credentials/index.js';
import type { Capabilities, ConnectorServices, Entitlement, EntitlementPage, GrantSpec, ListEntitlementsQuery, RevokeSpec, VerifyResult } from '../contract.js';

export const credentialCapabilities: Capabilities = {
  nativeExpiry: true,
  endsSessions: false,
  canRotate: false,
  jitAccounts: false,
};

export interface CredentialServices {
  engines: CredentialEngines;
  clock: Clock;
}

/** The engines the server passed in; a server without them cannot run these kinds. */
export function credentialServices(kind: string, services: ConnectorServices | undefined): CredentialServices {
  if (!services?.credentials) throw new Error(`the ${kind} connector needs the credential engines (ConnectorServices.credentials)`);
  return { engines: services.credentials, clock: services.clock ?? systemClock };
}

/** What the core always sets on a GrantSpec; a spec without it cannot say whom or which tenant to issue for. */
export function grantContext(spec: GrantSpec): { tenantId: string; subject: string; notBefore: Date; notAfter: Date } {
  if (!spec.tenantId || !spec.startsAt) throw invalid('the grant has no tenant or start time (the core must pass tenantId and startsAt)');
  return { tenantId: spec.tenantId, subject: spec.account.username, notBefore: spec.startsAt, notAfter: spec.notAfter };
}

const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/** The account name is the requester's e-mail address: it becomes the certificate's or token's subject. */
/** The requester's e-mail address, as data for forms. */
export const requesterAccountNameRules = (maxLength: number): AccountNameRules => ({
  minLength: 3,
  maxLength,
  pattern: EMAIL.source,
  reserved: [],
  reservedPrefixes: [],
  hint: `The requester's own e-mail address (at most ${maxLength} characters); it cannot be chosen.`,
});

export function requesterAccountName(maxLength: number) {
  return (name: string): string | null => {
    if (typeof name !== 'string' || !EMAIL.test(name)) {
      return `the account on this target is the requester's e-mail address, and ${JSON.stringify(String(name).slice(0, 80))} is not one (ASCII local@domain)`;
    }
    if (name.length > maxLength) return `the requester's e-mail address is longer than ${maxLength} characters, the most this credential can carry`;
    return null;
  };
}

/** The message of a validation error from the engines, or null. */
export async function problemOf(check: () => unknown): Promise<string | null> {
  try {
    await check();
    return null;
  } catch (err) {
    if (err instanceof AppError) return err.message;
    throw err;
  }
}

/**
 * Engine errors in the connector contract's terms: bad input is `invalid` (a person must fix it,
 * retrying changes nothing); a CA rotation racing the signing is `transient`.
 */
export function asTargetError(err: unknown): unknown {
  if (err instanceof AppError) return err.code === 'conflict' ? transient(err.message, err) : invalid(err.message, err);
  return err;
}

/** Entitlements from a fixed list, searched and paged by name. */
export function pageOf(all: Entitlement[], q: ListEntitlementsQuery): EntitlementPage {
  const search = q.search?.toLowerCase();
  const matching = all
    .filter((e) => !search || e.externalId.toLowerCase().includes(search))
    .filter((e) => !q.cursor || e.externalId > q.cursor)
    .sort((a, b) => (a.externalId < b.externalId ? -1 : a.externalId > b.externalId ? 1 : 0));
  const items = matching.slice(0, q.limit);
  return { items, nextCursor: matching.length > q.limit ? (items.at(-1)?.externalId ?? null) : null };
}

/**
 * Granting twice must leave one working credential: whatever an interrupted earlier activation of
 * this grant issued (never shown to anyone) is revoked before a new one is issued.
 */
export async function supersedeEarlier(s: CredentialServices, grantId: string): Promise<void> {
  for (const c of await s.engines.issued.listForGrant(grantId)) {
    if (!c.revokedAt) await s.engines.issued.revoke(c.id, 'superseded');
  }
}

/** Credentials of the grant that would still be accepted now (not revoked, not expired). */
async function liveCredentials(s: CredentialServices, grantId: string) {
  const now = +s.clock.now();
  return (await s.engines.issued.listForGrant(grantId)).filter((c) => !c.revokedAt && +c.notAfter > now);
}

/**
 * Revokes what still works. An expired credential is left alone: it no longer works anywhere and
 * listing it would only grow the KRL or CRL. Idempotent: nothing live left is success.
 */
export async function revokeGrantCredentials(s: CredentialServices, spec: RevokeSpec): Promise<void> {
  for (const c of await liveCredentials(s, spec.grantId)) await s.engines.issued.revoke(c.id, 'privilegeWithdrawn');
}

export async function verifyGrantCredentials(s: CredentialServices, spec: RevokeSpec): Promise<VerifyResult> {
  const live = await liveCredentials(s, spec.grantId);
  if (live.length === 0) return { state: 'absent', findings: [] };
  return {
    state: 'present',
    findings: live.map((c) => finding.credential(`${c.id} (serial ${c.serial})`, c.notAfter)),
  };
}
