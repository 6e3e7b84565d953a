import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { validatePrincipals } from './names.js';
import { sshKeygen, withPrivateDir } from './private-dir.js';
import { parseSshPublicKey } from './ssh-public-key.js';

/** Real keys from ssh-keygen, so the parser is checked against what users actually paste. */
const keys: Record<string, { pub: string; fingerprint: string }> = {};
const KINDS: Array<[string, string[]]> = [
  ['ed25519', ['-t', 'ed25519']],
  ['ecdsa256', ['-t', 'ecdsa', '-b', '256']],
  ['ecdsa384', ['-t', 'ecdsa', '-b', '384']],
  ['ecdsa521', ['-t', 'ecdsa', '-b', '521']],
  ['rsa3072', ['-t', 'rsa', '-b', '3072']],
  ['rsa2048', ['-t', 'rsa', '-b', '2048']],
  ['rsa1024', ['-t', 'rsa', '-b', '1024']],
  ['dsa', ['-t', 'dsa']],
];

beforeAll(async () => {
  await withPrivateDir(undefined, async (dir) => {
    await Promise.all(
      KINDS.map(async ([name, args]) => {
        const file = path.join(dir, name);
        await sshKeygen(['-q', ...args, '-N', '', '-C', `${name}@test`, '-f', file]);
        const fp = await sshKeygen(['-l', '-E', 'sha256', '-f', `${file}.pub`]);
        keys[name] = { pub: (await readFile(`${file}.pub`, 'utf8')).trim(), fingerprint: fp.split(' ')[1]! };
      }),
    );
  });
}, 60_000);

const blobOf = (line: string) => Buffer.from(line.split(' ')[1]!, 'base64');
const line = (type: string, blob: Buffer) => `${type} ${blob.toString('base64')}`;
const sshString = (b: Buffer | string) => {
  const buf = Buffer.from(b);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
};

/** The 3072-bit test key rebuilt with exponent `e` and its modulus changed by `n`. */
function rsaLine(e: Buffer, n: (modulus: Buffer) => Buffer): string {
  const blob = blobOf(keys.rsa3072!.pub);
  let at = 4 + blob.readUInt32BE(0); // the type
  at += 4 + blob.readUInt32BE(at); // the exponent
  const modulus = blob.subarray(at + 4, at + 4 + blob.readUInt32BE(at));
  return line('ssh-rsa', Buffer.concat([sshString('ssh-rsa'), sshString(e), sshString(n(modulus))]));
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** The last character before '=' carries unused low bits; setting one decodes to the same bytes. */
function nonCanonical(pub: string): string {
  const [type, b64] = pub.split(' ') as [string, string];
  const body = b64.replace(/=+$/, '');
  const last = body.at(-1)!;
  return `${type} ${body.slice(0, -1)}${B64[B64.indexOf(last) + 1]}${b64.slice(body.length)}`;
}

describe('parseSshPublicKey accepts', () => {
  it.each(['ed25519', 'ecdsa256', 'ecdsa384', 'ecdsa521', 'rsa3072'])('%s, with the fingerprint ssh-keygen prints', (name) => {
    const key = parseSshPublicKey(`${keys[name]!.pub}\n`);
    expect(key.fingerprint).toBe(keys[name]!.fingerprint);
    expect(key.line).toBe(keys[name]!.pub.split(' ').slice(0, 2).join(' ')); // comment dropped
  });

  it('a FIDO security key (sk-ssh-ed25519@openssh.com)', () => {
    const type = 'sk-ssh-ed25519@openssh.com';
    const blob = Buffer.concat([sshString(type), sshString(Buffer.alloc(32, 7)), sshString('ssh:')]);
    expect(parseSshPublicKey(line(type, blob)).bits).toBe(256);
  });
});

describe('parseSshPublicKey refuses, saying why', () => {
  const cases: Array<[string, () => string, RegExp]> = [
    ['DSA', () => keys.dsa!.pub, /DSA keys are weak/],
    ['RSA 1024', () => keys.rsa1024!.pub, /at least 3072 bits, this one has 1024/],
    ['RSA 2048', () => keys.rsa2048!.pub, /at least 3072 bits, this one has 2048/],
    ['malformed base64', () => 'ssh-ed25519 AAAAC3Nza$$C1lZDI1NTE5', /not valid base64/],
    ['non-canonical base64 (same bytes, padding bits set)', () => nonCanonical(keys.ecdsa256!.pub), /non-canonical/],
    ['a truncated key', () => line('ssh-ed25519', blobOf(keys.ed25519!.pub).subarray(0, 30)), /malformed \(truncated\)/],
    ['trailing junk after the key', () => line('ssh-ed25519', Buffer.concat([blobOf(keys.ed25519!.pub), Buffer.from('junk')])), /unexpected bytes after the key/],
    ['a type that does not match the data', () => `ssh-rsa ${keys.ed25519!.pub.split(' ')[1]}`, /says "ssh-ed25519" but the line says "ssh-rsa"/],
    ['authorized_keys options', () => `from="10.0.0.0/8",no-pty ${keys.ed25519!.pub}`, /options .* are not accepted/],
    ['command= option', () => `command="/bin/sh" ${keys.ed25519!.pub}`, /options .* are not accepted/],
    ['a private key', () => '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----', /PRIVATE key/],
    ['a certificate', () => `ssh-ed25519-cert-v01@openssh.com ${keys.ed25519!.pub.split(' ')[1]}`, /this is a certificate/],
    ['two keys', () => `${keys.ed25519!.pub}\n${keys.ecdsa256!.pub}`, /exactly one key on one line/],
    ['an unknown type', () => 'ssh-foo AAAA', /unknown key type "ssh-foo"/],
    ['an empty string', () => '  ', /empty/],
    ['missing key data', () => 'ssh-ed25519', /base64 key data is missing/],
    ['control characters', () => `${keys.ed25519!.pub}\u0007`, /control characters/],
    // Keys that parse but protect nothing: a signature verifies without any secret.
    ['an all-zero Ed25519 key', () => line('ssh-ed25519', Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.alloc(32))])), /protects nothing: it is a point of small order/],
    ['an RSA key with e = 1', () => rsaLine(Buffer.from([1]), (n) => n), /protects nothing: its public exponent 1/],
    ['an RSA key with an even modulus', () => rsaLine(Buffer.from([1, 0, 1]), (n) => Buffer.concat([n.subarray(0, -1), Buffer.from([n.at(-1)! & 0xfe])])), /its modulus is even/],
    [
      'an EC point not on the curve',
      () => {
        const q = Buffer.concat([Buffer.from([4]), Buffer.alloc(32, 1), Buffer.alloc(32, 2)]);
        return line('ecdsa-sha2-nistp256', Buffer.concat([sshString('ecdsa-sha2-nistp256'), sshString('nistp256'), sshString(q)]));
      },
      /not on the curve/,
    ],
  ];
  it.each(cases)('%s', (_name, input, message) => {
    expect(() => parseSshPublicKey(input())).toThrow(message);
    try {
      parseSshPublicKey(input());
    } catch (err) {
      expect((err as { status?: number }).status).toBe(400);
      expect((err as Error).message).toMatch(/^SSH public key refused: /);
    }
  });
});

describe('validatePrincipals', () => {
  it('accepts ordinary account names', () => {
    expect(validatePrincipals(['root', 'deploy-user', 'svc_backup', 'alice@example.com'])).toHaveLength(4);
  });

  it.each([
    [['alice,root'], /contains ','/],
    [['alice root'], /whitespace/],
    [['alice\troot'], /whitespace/],
    [['al\u0000ice'], /control characters/],
    [['*'], /wildcard/],
    [['ali?e'], /wildcard/],
    [['a'.repeat(65)], /longer than 64/],
    [[''], /non-empty/],
    [['alice', 'alice'], /listed twice/],
    [[], /at least one principal/],
    [Array.from({ length: 33 }, (_, i) => `u${i}`), /at most 32/],
  ])('refuses %j', (principals, message) => {
    expect(() => validatePrincipals(principals)).toThrow(message);
  });
});
