/**
 * LDAP, TLS and network failures → TargetError classes, which decide the retry policy: transient
 * is retried, the others need a person, so their message says what to fix in AD terms.
 */
import { TargetError, invalid, permanent, transient } from '../../core/errors.js';

const NET = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'EADDRNOTAVAIL']);
/** Certificate problems need a person (caPem / tlsServerName); retrying will not fix them. */
const CERT = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH',
]);

/** AD's extended error in a failed bind ("… data 533, v1db1"): what it means to a domain admin. */
export const BIND_SUBCODES: Record<string, string> = {
  '525': 'the account does not exist',
  '52e': 'wrong password, or no such account',
  '530': 'logon not permitted at this time (logonHours)',
  '531': 'logon not permitted from this workstation',
  '532': 'the password has expired',
  '533': 'the account is disabled',
  '568': 'too many security IDs (group memberships)',
  '701': 'the account has expired (accountExpires)',
  '773': 'the password must be changed at next logon',
  '775': 'the account is locked out',
};

/** The "data XXX" sub-code of an AD bind failure, lowercase, or null. */
export function bindSubCode(err: unknown): string | null {
  const message = err instanceof Error ? err.message : String(err);
  return /\bdata ([0-9a-f]{3,4})\b/i.exec(message)?.[1]?.toLowerCase() ?? null;
}

const resultCode = (err: unknown): number | undefined => {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
};
const errCode = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') return code;
  if (err instanceof AggregateError) return errCode(err.errors[0]);
  return undefined;
};

/** Server text without ldapts' " Code: 0x32" suffix and trailing newlines. */
const serverText = (message: string) => message.replace(/\s*Code: 0x[0-9a-f]+\s*$/i, '').trim();

/**
 * `where` names the DC (the URL), `doing` the step ("adding CN=bob to CN=Server Admins,…"), so a
 * message read in an alert says which server, which object, and what to change.
 */
export function toTargetError(err: unknown, where: string, doing = 'talking to the directory'): TargetError {
  if (err instanceof TargetError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const text = serverText(message);
  const code = resultCode(err);
  const sys = errCode(err);
  const at = `Active Directory at ${where}`;

  // Refused by the server's outbound policy before anything was sent.
  if (sys === 'EOUTBOUND') return permanent(`${at}: ${message}`, err);
  if (sys && NET.has(sys)) return transient(`${at} is unreachable (${sys}) while ${doing}`, err);
  if (sys && CERT.has(sys)) {
    return permanent(
      `${at}: the DC's TLS certificate is not trusted (${sys}: ${message}). Set caPem to the CA that issued it and, if the URL uses an IP address or alias, tlsServerName to the name in the certificate`,
      err,
    );
  }

  switch (code) {
    case 49: {
      const sub = bindSubCode(err);
      const meaning = sub ? ` (data ${sub}: ${BIND_SUBCODES[sub] ?? 'see AD bind error codes'})` : '';
      return permanent(`${at}: bind failed: invalid credentials${meaning}; check bindDn and bindPassword of the service account`, err);
    }
    case 50:
      return permanent(
        `${at}: insufficient access rights (50) while ${doing}; delegate the right to the service account (see docs/targets/active-directory.md): ${text}`,
        err,
      );
    case 19:
      if (/0000052D/i.test(message)) {
        return permanent(
          `${at}: the domain's password policy refused the password (constraint violation 0000052D) while ${doing}; check minimum length, complexity and fine-grained password policies that apply to the JIT OU: ${text}`,
          err,
        );
      }
      return permanent(`${at}: constraint violation (19) while ${doing}: ${text}`, err);
    case 32:
      return invalid(`${at}: no such object while ${doing}: ${text}`, err);
    case 34:
      return invalid(`${at}: invalid DN syntax while ${doing}: ${text}`, err);
    case 8:
    case 13:
      return permanent(`${at} requires a stronger connection (${code}) while ${doing}: ${text}`, err);
    case 3: // timeLimitExceeded
    case 51: // busy
    case 52: // unavailable
    case 80: // other: Samba and AD use it for transient internal failures (e.g. database locked)
      return transient(`${at} is busy or unavailable (${code}) while ${doing}: ${text}`, err);
  }
  if (code !== undefined) return permanent(`${at}: LDAP error ${code} while ${doing}: ${text}`, err);
  if (/certificate|self[- ]signed|altnames|hostname\/ip does not match/i.test(message)) {
    return permanent(`${at}: the DC's TLS certificate is not trusted: ${message}. Check caPem and tlsServerName`, err);
  }
  // Timeouts, dropped connections, TLS handshakes cut short: worth retrying.
  return transient(`${at}: ${message.split('\n')[0]} (while ${doing})`, err);
}
