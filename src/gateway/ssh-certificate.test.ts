import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newEd25519KeyPair } from './ed25519-keypair.js';
import { checkOperatorCertificate, parseEd25519Certificate } from './ssh-certificate.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tb-cert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const blobOf = (line: string) => Buffer.from(line.trim().split(' ')[1]!, 'base64');
function caKey(name: string) {
  const pair = newEd25519KeyPair(name);
  writeFileSync(path.join(dir, name), pair.privateKey, { mode: 0o600 });
  return { file: path.join(dir, name), blob: blobOf(pair.publicKey) };
}
const gatewayCa = caKey('ca');
const otherCa = caKey('other');
const user = newEd25519KeyPair('user');
writeFileSync(path.join(dir, 'user.pub'), `${user.publicKey}\n`);
const operatorId = randomUUID();
const now = Math.floor(Date.now() / 1000);

let n = 0;
function sign(opts: { ca?: string; principal?: string; keyId?: string; from?: number; to?: number; extra?: string[] } = {}) {
  const file = path.join(dir, `u${n++}.pub`);
  writeFileSync(file, `${user.publicKey}\n`);
  execFileSync('/usr/bin/ssh-keygen', [
    '-q', '-s', opts.ca ?? gatewayCa.file,
    '-I', opts.keyId ?? `timebox-gateway:${operatorId}:ann@example.test`,
    '-n', opts.principal ?? `timebox-operator:${operatorId}`,
    '-V', `0x${(opts.from ?? now - 60).toString(16)}:0x${(opts.to ?? now + 300).toString(16)}`,
    ...(opts.extra ?? ['-O', 'clear']),
    file,
  ]);
  return parseEd25519Certificate(blobOf(readFileSync(file.replace(/\.pub$/, '-cert.pub'), 'utf8')));
}

describe('gateway certificates', () => {
  it("accepts the gateway CA's certificate naming an operator", () => {
    const cert = sign();
    expect(checkOperatorCertificate(cert, gatewayCa.blob, now)).toEqual({ operatorId });
    expect(cert.keyBlob.equals(blobOf(user.publicKey))).toBe(true);
  });

  it('refuses another CA, the wrong time, host certificates, other principals and critical options', () => {
    expect(checkOperatorCertificate(sign({ ca: otherCa.file }), gatewayCa.blob, now)).toEqual({ problem: 'not_signed_by_gateway_ca' });
    expect(checkOperatorCertificate(sign({ to: now - 1, from: now - 100 }), gatewayCa.blob, now)).toEqual({ problem: 'expired' });
    expect(checkOperatorCertificate(sign({ from: now + 100, to: now + 200 }), gatewayCa.blob, now)).toEqual({ problem: 'not_yet_valid' });
    expect(checkOperatorCertificate(sign({ principal: 'root' }), gatewayCa.blob, now)).toEqual({ problem: 'no_operator_principal' });
    expect(checkOperatorCertificate(sign({ keyId: `timebox:${randomUUID()}:x` }), gatewayCa.blob, now)).toEqual({ problem: 'no_operator_principal' });
    expect(checkOperatorCertificate(sign({ principal: `timebox-operator:${operatorId},root` }), gatewayCa.blob, now)).toEqual({ problem: 'no_operator_principal' });
    expect(checkOperatorCertificate(sign({ extra: ['-O', 'clear', '-O', 'force-command=/bin/true'] }), gatewayCa.blob, now)).toEqual({ problem: 'critical_options' });
    expect(checkOperatorCertificate(sign({ extra: ['-h'] }), gatewayCa.blob, now)).toEqual({ problem: 'not_a_user_certificate' });
  });

  it('refuses a certificate whose signed part was altered', () => {
    const cert = sign();
    const altered = { ...cert, signedData: Buffer.from(cert.signedData) };
    altered.signedData[altered.signedData.length - 40]! ^= 1;
    expect(checkOperatorCertificate(altered, gatewayCa.blob, now)).toEqual({ problem: 'not_signed_by_gateway_ca' });
  });
});
