/**
 * The target kinds that issue a credential (certificate or token) instead of enabling an account
 * with a password: whether they take the requester's public key, and how the parts of what they
 * issue are saved and used (their labels come from the server, GET /target-kinds). See
 * docs/credentials.md.
 */
import type { Credential, Target } from '../../../src/api/types.js';

/** The one list of credential kinds: the target form's settings for them (pages/targets/credential-kinds.ts) are keyed by it. */
export type CredentialKind = 'ssh-certificate' | 'x509-certificate' | 'security-token';

const credentialKinds: ReadonlySet<string> = new Set<CredentialKind>(['ssh-certificate', 'x509-certificate', 'security-token']);

export const issuesCredential = (kind: string | undefined): kind is CredentialKind => !!kind && credentialKinds.has(kind);

/** SSH and X.509 sign the person's own key when given one; tokens are bearer tokens and take none. */
export const takesPublicKey = (kind: string | undefined): boolean => kind === 'ssh-certificate' || kind === 'x509-certificate';

/** What the entitlements of a credential kind are called in the picker (other kinds: groups and roles). */
export function entitlementWords(kind: string): { legend?: string; searchLabel?: string; noun?: string } {
  if (kind === 'ssh-certificate') return { legend: 'Principals (accounts on the hosts)', searchLabel: 'Search principals', noun: 'principal' };
  if (kind === 'x509-certificate') return { legend: 'Roles', searchLabel: 'Search roles', noun: 'role' };
  if (kind === 'security-token') return { legend: 'Scopes', searchLabel: 'Search scopes', noun: 'scope' };
  return {};
}

/** The target names the requester (no username to choose); older servers do not say, the kind does. */
export const namesRequester = (target: Target | undefined, kind: string): boolean =>
  target?.accountName ? target.accountName === 'requester' : issuesCredential(kind);

/** What the one-time dialog calls the secret, from the kind or, when unknown, from what arrived. */
export function secretNoun(kind: string | undefined, c?: Credential | null): 'password' | 'certificate' | 'token' {
  if (kind === 'security-token' || c?.token) return 'token';
  if (kind === 'ssh-certificate' || kind === 'x509-certificate' || c?.certificate) return 'certificate';
  return 'password';
}

export const publicKeyHelp: Record<string, { placeholder: string; accept: string; hint: string }> = {
  'ssh-certificate': {
    placeholder: 'ssh-ed25519 AAAAC3Nza… you@laptop',
    accept: '.pub,text/plain',
    hint: 'Paste the one line of your OpenSSH public key (e.g. ~/.ssh/id_ed25519.pub), or choose the file.',
  },
  'x509-certificate': {
    placeholder: '-----BEGIN CERTIFICATE REQUEST-----',
    accept: '.pem,.csr,.pub,text/plain',
    hint: 'Paste a PEM public key or a PKCS#10 certificate request (CSR), or choose the file.',
  },
};

export interface CredentialPart {
  key: 'password' | 'token' | 'certificate' | 'privateKey' | 'caPublicKey';
  label: string;
  value: string;
  /** Offered as a download under this name; none for a password (it belongs in a password manager). */
  fileName?: string;
  note?: string;
}

/** `ssh-ed25519-cert-v01@openssh.com AAAA…` → `id_ed25519`: the name ssh looks for next to a key of that type. */
function sshKeyBase(certificate: string): string {
  const type = certificate.trim().split(/\s+/)[0] ?? '';
  if (type.startsWith('sk-ssh-ed25519')) return 'id_ed25519_sk';
  if (type.startsWith('sk-ecdsa')) return 'id_ecdsa_sk';
  if (type.startsWith('ecdsa')) return 'id_ecdsa';
  if (type.startsWith('ssh-rsa')) return 'id_rsa';
  return 'id_ed25519';
}

const isPem = (text: string) => text.trimStart().startsWith('-----BEGIN');

/** The parts of a revealed credential, in the order a person needs them, with file names and notes. */
export function partsOf(c: Credential): CredentialPart[] {
  const parts: CredentialPart[] = [];
  if (c.password) parts.push({ key: 'password', label: 'Password', value: c.password });
  if (c.token) parts.push({ key: 'token', label: 'Token', value: c.token, fileName: 'token.jwt' });
  if (c.certificate && isPem(c.certificate)) {
    parts.push({ key: 'certificate', label: 'Certificate', value: c.certificate, fileName: 'cert.pem' });
    if (c.privateKey) parts.push({ key: 'privateKey', label: 'Private key', value: c.privateKey, fileName: 'key.pem', note: 'Keep it private: chmod 600 key.pem.' });
    if (c.caPublicKey) parts.push({ key: 'caPublicKey', label: 'CA certificate', value: c.caPublicKey, fileName: 'ca.pem', note: 'What servers trust; not secret.' });
  } else if (c.certificate) {
    const base = sshKeyBase(c.certificate);
    parts.push({ key: 'certificate', label: 'Certificate', value: c.certificate, fileName: `${base}-cert.pub` });
    if (c.privateKey) {
      parts.push({ key: 'privateKey', label: 'Private key', value: c.privateKey, fileName: base, note: `ssh refuses a key others can read: chmod 600 ${base}.` });
    }
    if (c.caPublicKey) parts.push({ key: 'caPublicKey', label: 'CA public key', value: c.caPublicKey, fileName: 'timebox_user_ca.pub', note: 'What hosts trust (TrustedUserCAKeys); not secret.' });
  }
  return parts;
}

/** One line saying how to use what was issued, with the file names of the downloads. */
export function usageOf(c: Credential, principal: string | undefined): string | null {
  const who = principal ?? 'USER';
  if (c.token) return 'curl -H "Authorization: Bearer $(cat token.jwt)" https://API';
  if (c.certificate && isPem(c.certificate)) return `curl --cert cert.pem --key ${c.privateKey ? 'key.pem' : 'YOUR_KEY.pem'} https://SERVICE`;
  if (c.certificate) {
    const base = sshKeyBase(c.certificate);
    return `ssh -i ${c.privateKey ? base : `~/.ssh/${base}`} -o CertificateFile=${base}-cert.pub ${who}@HOST`;
  }
  return null;
}
