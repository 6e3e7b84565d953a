/**
 * A new Ed25519 key pair in OpenSSH form, as ssh2 makes it, but never one ssh2 cannot read back.
 * ssh2's generator drops a leading zero byte of the public key (about one key in 200): the private
 * key then fails to parse ("Malformed OpenSSH private key") and the public line holds 31 bytes.
 * Such a pair is thrown away and another made; each draw is independent, so a few suffice.
 */
import ssh2 from 'ssh2';

const ED25519_PUBLIC_BLOB = 4 + 'ssh-ed25519'.length + 4 + 32;

export function isWellFormedEd25519(privateKey: string, publicKey: string): boolean {
  const priv = ssh2.utils.parseKey(privateKey);
  const pub = ssh2.utils.parseKey(publicKey);
  if (priv instanceof Error || pub instanceof Error || Array.isArray(priv) || Array.isArray(pub)) return false;
  const blob = priv.getPublicSSH();
  return priv.type === 'ssh-ed25519' && blob.length === ED25519_PUBLIC_BLOB && blob.equals(pub.getPublicSSH());
}

export function newEd25519KeyPair(comment: string): { privateKey: string; publicKey: string } {
  for (let attempt = 0; attempt < 20; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    const publicKey = pair.public.trim();
    if (isWellFormedEd25519(pair.private, publicKey)) return { privateKey: pair.private, publicKey };
  }
  throw new Error('could not generate a well-formed Ed25519 key pair');
}
