import { describe, expect, it } from 'vitest';
import { loadServerConfig } from '../server/config.js';
import { fastifyTrustProxy, parseTrustProxy } from './trust-proxy.js';

describe('TIMEBOX_TRUST_PROXY', () => {
  it.each([
    ['false', { kind: 'none' }],
    ['0', { kind: 'none' }],
    ['2', { kind: 'hops', hops: 2 }],
    ['10.0.0.5', { kind: 'addresses', addresses: ['10.0.0.5'] }],
    [' 10.0.0.5 , 10.1.0.0/16,fd00::/8, loopback', { kind: 'addresses', addresses: ['10.0.0.5', '10.1.0.0/16', 'fd00::/8', 'loopback'] }],
  ])('%j means %j', (value, meaning) => {
    expect(parseTrustProxy(value)).toEqual({ ok: true, value: meaning });
  });

  it.each([
    ['true', /"true" would believe any X-Forwarded-For a client writes; set the number of proxies/],
    ['99', /at most 20 proxies/],
    ['10.0.0.300', /not an address: "10.0.0.300"/],
    ['proxy.example.com', /not an address: "proxy.example.com"/],
    ['10.0.0.0/99', /not an address/],
  ])('refuses %j at start', (value, message) => {
    expect(() => loadServerConfig({ TIMEBOX_TRUST_PROXY: value })).toThrow(message);
  });

  it('a hop count trusts exactly that many hops from the socket', () => {
    const trust = fastifyTrustProxy({ kind: 'hops', hops: 2 }) as (a: string, i: number) => boolean;
    expect([0, 1, 2].map((i) => trust('192.0.2.1', i))).toEqual([true, true, false]);
    expect(fastifyTrustProxy({ kind: 'hops', hops: 0 })).toBe(false);
  });
});
