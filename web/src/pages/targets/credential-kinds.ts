/**
 * Kinds that issue a credential instead of changing an account (src/connectors/credentials/):
 * SSH certificates (principals), X.509 client certificates (roles) and security tokens (scopes).
 * Only what must be there is checked here; the server judges each name and says which is wrong.
 * Which kinds these are, and what an issued credential is called, is said once in
 * wizard/credential-kinds.ts; this file holds only the target form's settings for them.
 */
import type { CredentialKind } from '../../wizard/credential-kinds';
import { linesOf } from './lists';
import type { ConfigValues } from './target-kinds';

/** src/credentials/ssh-certificates.ts SSH_EXTENSIONS, with what each lets the holder do. */
export const sshExtensions: { value: string; label: string }[] = [
  { value: 'permit-pty', label: 'permit-pty: an interactive terminal' },
  { value: 'permit-port-forwarding', label: 'permit-port-forwarding: forward ports' },
  { value: 'permit-agent-forwarding', label: 'permit-agent-forwarding: forward the SSH agent' },
  { value: 'permit-X11-forwarding', label: 'permit-X11-forwarding: forward X11' },
  { value: 'permit-user-rc', label: 'permit-user-rc: run ~/.ssh/rc' },
];

export const initialValues: Record<CredentialKind, ConfigValues> = {
  'ssh-certificate': { principalsAllowed: '', principalPattern: '', extensions: 'permit-pty', sourceAddresses: '', forceCommand: '' },
  'x509-certificate': { roles: '', roleUriPrefix: 'urn:timebox:role:', emailSan: 'true' },
  'security-token': { audience: '', scopes: '' },
};

export function configProblems(kind: CredentialKind, v: ConfigValues): ConfigValues {
  const e: ConfigValues = {};
  if (kind === 'ssh-certificate') {
    if (linesOf(v.principalsAllowed).length === 0 && !v.principalPattern?.trim()) {
      e.principalsAllowed = 'List the principals that may be granted, or give a pattern below.';
    }
  } else if (kind === 'x509-certificate') {
    if (linesOf(v.roles).length === 0) e.roles = 'List at least one role that may be granted.';
    if (!v.roleUriPrefix?.trim()) e.roleUriPrefix = 'Enter the start of the role URIs, e.g. urn:timebox:role:.';
  } else {
    if (linesOf(v.audience).length === 0) e.audience = 'Enter the API the tokens are for (their audience).';
    if (linesOf(v.scopes).length === 0) e.scopes = 'List at least one scope that may be granted.';
  }
  return e;
}

export function configOf(kind: CredentialKind, v: ConfigValues): Record<string, unknown> {
  if (kind === 'ssh-certificate') {
    const principals = linesOf(v.principalsAllowed);
    const sources = linesOf(v.sourceAddresses);
    return {
      ...(principals.length ? { principalsAllowed: principals } : {}),
      ...(v.principalPattern?.trim() ? { principalPattern: v.principalPattern.trim() } : {}),
      extensions: (v.extensions ?? '').split(',').filter(Boolean),
      ...(sources.length ? { sourceAddresses: sources } : {}),
      ...(v.forceCommand?.trim() ? { forceCommand: v.forceCommand.trim() } : {}),
    };
  }
  if (kind === 'x509-certificate') {
    return { roles: linesOf(v.roles), roleUriPrefix: v.roleUriPrefix!.trim(), emailSan: v.emailSan === 'true' };
  }
  const audience = linesOf(v.audience);
  return { audience: audience.length === 1 ? audience[0] : audience, scopes: linesOf(v.scopes) };
}
