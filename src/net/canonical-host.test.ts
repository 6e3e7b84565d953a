import { describe, expect, it } from 'vitest';
import { canonicalHost } from './canonical-host.js';

describe('canonicalHost', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['[::ffff:127.0.0.1]', '127.0.0.1'],
    ['[::1]', '0:0:0:0:0:0:0:1'],
    ['LocalHost.', 'localhost'],
    ['10.0.0.1', '10.0.0.1'],
    ['012.0.0.1', '10.0.0.1'],
    ['167772161', '10.0.0.1'],
    ['[2001:DB8::1]', '2001:db8:0:0:0:0:0:1'],
    ['DB.Example.COM.', 'db.example.com'],
  ])('%s → %s', (host, expected) => {
    expect(canonicalHost(host)).toBe(expected);
  });
});
