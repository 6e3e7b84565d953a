import { describe, expect, it } from 'vitest';
import { createOutboundPolicy, OutboundRefused, parseOutboundAllow } from './outbound-policy.js';
import { failureClass } from './failure-class.js';

const resolverOf = (answers: Record<string, string[]>) => async (host: string) =>
  (answers[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('outbound address policy', () => {
  it.each([
    ['127.1', 'a loopback address'],
    ['0x7f.1', 'a loopback address'],
    ['2130706433', 'a loopback address'],
    ['0177.0.0.1', 'a loopback address'],
    ['::1', 'a loopback address'],
    ['[::ffff:127.0.0.1]', 'a loopback address'],
    ['169.254.169.254', 'a link-local address'],
    ['fe80::1', 'a link-local address'],
    ['10.0.0.1', 'a private-network address'],
    ['172.16.5.5', 'a private-network address'],
    ['192.168.1.1', 'a private-network address'],
    ['fc00::1', 'a private-network address'],
    ['100.64.0.1', 'a carrier-grade NAT address'],
    ['0.0.0.0', 'a special-purpose address'],
    ['224.0.0.1', 'a special-purpose address'],
    ['255.255.255.255', 'a special-purpose address'],
    ['64:ff9b::7f00:1', 'a special-purpose address'], // NAT64 of 127.0.0.1
    ['2002:7f00:1::', 'a special-purpose address'], // 6to4 of 127.0.0.1
    ['[::7f00:1]', 'a special-purpose address'], // IPv4-compatible (deprecated) 127.0.0.1, as a URL writes it
    ['::a00:1', 'a special-purpose address'], // the same of 10.0.0.1
    ['localhost', 'a loopback address'],
    ['8.8.8.8', null],
    ['2001:4860:4860::8888', null],
  ])('%s → %s', (host, expected) => {
    const problem = createOutboundPolicy().literalProblem(host);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(new RegExp(`^${expected.replace(/[()]/g, '\\$&')}`));
  });

  it('lets the operator allow classes and CIDRs, and nothing else', () => {
    const p = createOutboundPolicy({ allow: 'loopback, 10.20.0.0/16' });
    expect(p.literalProblem('127.0.0.1')).toBeNull();
    expect(p.literalProblem('10.20.3.4')).toBeNull();
    expect(p.literalProblem('10.21.3.4')).toMatch(/private/);
    expect(p.literalProblem('169.254.169.254')).toMatch(/link-local/);
    expect(() => parseOutboundAllow('everything')).toThrow(/neither one of loopback, private, link-local, cgnat nor a CIDR/);
    expect(() => parseOutboundAllow('10.0.0.0/99')).toThrow(/not a CIDR/);
  });

  it('resolves names and refuses when any answer is refused; pins the checked address', async () => {
    const p = createOutboundPolicy({
      resolver: resolverOf({ 'hooks.example.com': ['93.184.215.14'], 'rebind.example.com': ['93.184.215.14', '127.0.0.1'], 'meta.example.com': ['169.254.169.254'] }),
    });
    expect(await p.resolve('hooks.example.com')).toEqual({ address: '93.184.215.14', family: 4 });
    await expect(p.resolve('rebind.example.com')).rejects.toBeInstanceOf(OutboundRefused);
    await expect(p.resolve('meta.example.com')).rejects.toThrow(/meta.example.com \(169.254.169.254\) is a link-local address/);
    await expect(p.resolve('0x7f.1')).rejects.toThrow(/0x7f.1 \(127.0.0.1\) is a loopback address/);
    const viaLookup = await new Promise<string>((resolve, reject) =>
      p.lookup('hooks.example.com', {}, (err, address) => (err ? reject(err) : resolve(address as string))),
    );
    expect(viaLookup).toBe('93.184.215.14');
  });

  it('reduces failures to a class, never the remote text', () => {
    expect(failureClass(new OutboundRefused('x', '127.0.0.1', 'a loopback address'))).toBe('address not allowed');
    expect(failureClass(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:25'), { code: 'ECONNREFUSED' }))).toBe('connection refused');
    expect(failureClass(Object.assign(new Error('Invalid greeting. response=220 internal-db ready'), { code: 'EPROTOCOL' }))).toBe('protocol error');
    expect(failureClass(Object.assign(new Error('x'), { code: 'CERT_HAS_EXPIRED' }))).toBe('TLS failed');
    expect(failureClass(new DOMException('timed out', 'TimeoutError'))).toBe('timed out');
  });
});
