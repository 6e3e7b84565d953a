import { describe, expect, it } from 'vitest';
import { createOutboundPolicy } from '../net/outbound-policy.js';
import { redactUrl, webhookUrlProblem } from './url-policy.js';

const strict = createOutboundPolicy();
const loopbackAllowed = createOutboundPolicy({ allow: 'loopback' });

describe('webhook URL policy', () => {
  it('allows https anywhere public; http and internal addresses only as the server operator allows', () => {
    for (const ok of ['https://hooks.slack.com/services/T0/B0/XYZ', 'https://example.webhook.office.com/webhookb2/abc', 'https://93.184.215.14/x']) {
      expect(webhookUrlProblem(ok, strict), ok).toBeNull();
    }
    for (const local of ['http://127.0.0.1:8080/hook', 'http://localhost/hook', 'http://[::1]:9000/', 'https://localhost/x', 'http://127.1/', 'https://0x7f.1/']) {
      expect(webhookUrlProblem(local, strict), local).toMatch(/^must not point to a loopback address .* unless the server operator allows it$/);
      expect(webhookUrlProblem(local, loopbackAllowed), local).toBeNull();
    }
  });

  it('explains what is wrong', () => {
    expect(webhookUrlProblem('hooks.example.com/x', strict)).toBe('must be an absolute URL such as https://hooks.example.com/…');
    expect(webhookUrlProblem('ftp://example.com/x', strict)).toBe('must use https (the ftp scheme is not allowed)');
    expect(webhookUrlProblem('file:///etc/passwd', strict)).toBe('must use https (the file scheme is not allowed)');
    expect(webhookUrlProblem('https://user:pw@example.com/x', strict)).toBe(
      'must not contain credentials (user:password@); the webhook secret signs every request instead',
    );
    expect(webhookUrlProblem('http://example.com/x', loopbackAllowed)).toBe(
      'must use https; plain http is allowed only to an internal address the server operator allows',
    );
  });

  it('refuses private, link-local and other special addresses, however they are written', () => {
    for (const [bad, what] of [
      ['https://10.1.2.3/x', 'a private-network address'],
      ['https://192.168.0.10/x', 'a private-network address'],
      ['https://172.20.0.1/x', 'a private-network address'],
      ['https://169.254.169.254/latest/meta-data', 'a link-local address'],
      ['https://127.0.0.2/x', 'a loopback address'],
      ['https://0x0a000001/x', 'a private-network address'], // 10.0.0.1 in hex
      ['https://167772161/x', 'a private-network address'], // 10.0.0.1 as one number
      ['https://[fe80::1]/x', 'a link-local address'],
      ['https://[fd00::1]/x', 'a private-network address'],
      ['https://[::ffff:10.0.0.1]/x', 'a private-network address'],
      ['https://db.localhost/x', 'a loopback address'],
      ['https://0.0.0.0/x', 'a special-purpose address'],
      ['https://100.64.0.1/x', 'a carrier-grade NAT address'],
    ] as const) {
      expect(webhookUrlProblem(bad, strict), bad).toMatch(new RegExp(`^must not point to ${what.replace(/[()]/g, '\\$&')}`));
    }
  });

  it('redacts everything after the first path segment (chat webhook URLs carry tokens)', () => {
    expect(redactUrl('https://hooks.slack.com/services/T0/B0/XYZ')).toBe('https://hooks.slack.com/services/…');
    expect(redactUrl('https://example.com/hook?token=abc')).toBe('https://example.com/hook/…');
    expect(redactUrl('https://example.com/hook')).toBe('https://example.com/hook');
  });
});
