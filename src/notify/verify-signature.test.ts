import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature } from './verify-signature.js';

const secret = 'whsec_test-secret-of-a-receiver';
const body = '{"event":"grant_activated","n":1}';
const at = new Date('2026-03-01T09:00:00.000Z');

describe('webhook signatures', () => {
  it('has the documented shape: t=<unix seconds>,v1=<64 hex>', () => {
    expect(signWebhook(secret, body, at)).toMatch(/^t=1772355600,v1=[0-9a-f]{64}$/);
  });

  it('verifies what was signed, within the tolerance either side', () => {
    const header = signWebhook(secret, body, at);
    expect(verifyWebhookSignature(secret, header, body, at)).toBe(true);
    expect(verifyWebhookSignature(secret, header, Buffer.from(body), new Date(at.getTime() + 299_000))).toBe(true);
    expect(verifyWebhookSignature(secret, header, body, new Date(at.getTime() - 299_000))).toBe(true);
  });

  it('refuses a changed body, another secret, a replay after the tolerance, and garbage', () => {
    const header = signWebhook(secret, body, at);
    expect(verifyWebhookSignature(secret, header, body.replace('1', '2'), at)).toBe(false);
    expect(verifyWebhookSignature('whsec_someone-else', header, body, at)).toBe(false);
    expect(verifyWebhookSignature(secret, header, body, new Date(at.getTime() + 301_000))).toBe(false);
    expect(verifyWebhookSignature(secret, header, body, new Date(at.getTime() + 30_000), 10)).toBe(false);
    for (const bad of ['', 'v1=abc', 't=abc,v1=00', `t=1772355600`, null, undefined]) {
      expect(verifyWebhookSignature(secret, bad, body, at)).toBe(false);
    }
  });

  it('cannot be fooled by moving the timestamp: t is part of what is signed', () => {
    const header = signWebhook(secret, body, at);
    const moved = header.replace('t=1772355600', 't=1772359200');
    expect(verifyWebhookSignature(secret, moved, body, new Date('2026-03-01T10:00:00.000Z'))).toBe(false);
  });

  it('accepts any one valid v1 among several (secret rotation)', () => {
    const good = signWebhook(secret, body, at).split(',v1=')[1]!;
    expect(verifyWebhookSignature(secret, `t=1772355600,v1=${'0'.repeat(64)},v1=${good}`, body, at)).toBe(true);
  });
});
