import { describe, expect, it } from 'vitest';
import { redactUrl, webhookUrlProblem } from './url-policy.js';

describe('webhook URL policy', () => {
  it('allows https anywhere public, and http only on this host', () => {
    for (const ok of [
      'https://hooks.slack.com/services/T0/B0/XYZ',
      'https://example.webhook.office.com/webhookb2/abc',
      'http://127.0.0.1:8080/hook',
      'http://localhost/hook',
      'http://[::1]:9000/',
      'https://localhost/x',
    ]) {
      expect(webhookUrlProblem(ok), ok).toBeNull();
    }
  });

  it('explains what is wrong', () => {
    expect(webhookUrlProblem('hooks.example.com/x')).toBe('must be an absolute URL such as https://hooks.example.com/…');
    expect(webhookUrlProblem('ftp://example.com/x')).toBe('must use https (the ftp scheme is not allowed)');
    expect(webhookUrlProblem('file:///etc/passwd')).toBe('must use https (the file scheme is not allowed)');
    expect(webhookUrlProblem('https://user:pw@example.com/x')).toBe(
      'must not contain credentials (user:password@); the webhook secret signs every request instead',
    );
    expect(webhookUrlProblem('http://example.com/x')).toBe('must use https; plain http is allowed only for localhost and 127.0.0.1');
  });

  it('refuses private, link-local and other loopback addresses, however they are written', () => {
    for (const bad of [
      'https://10.1.2.3/x',
      'https://192.168.0.10/x',
      'https://172.20.0.1/x',
      'https://169.254.169.254/latest/meta-data',
      'https://127.0.0.2/x',
      'https://0x0a000001/x', // 10.0.0.1 in hex
      'https://167772161/x', // 10.0.0.1 as one number
      'https://[fe80::1]/x',
      'https://[fd00::1]/x',
      'https://[::ffff:10.0.0.1]/x',
      'https://db.localhost/x',
      'https://0.0.0.0/x',
    ]) {
      expect(webhookUrlProblem(bad), bad).toMatch(/^must not point into a private, loopback or link-local network/);
    }
  });

  it('redacts everything after the first path segment (chat webhook URLs carry tokens)', () => {
    expect(redactUrl('https://hooks.slack.com/services/T0/B0/XYZ')).toBe('https://hooks.slack.com/services/…');
    expect(redactUrl('https://example.com/hook?token=abc')).toBe('https://example.com/hook/…');
    expect(redactUrl('https://example.com/hook')).toBe('https://example.com/hook');
  });
});
