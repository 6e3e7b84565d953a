/**
 * The identity provider's addresses go through the server's outbound policy: a tenant admin who
 * names an issuer inside the server's network (or one whose name resolves there) learns nothing
 * about it and the service never sees a request; an endless answer is cut off, not buffered.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../core/errors.js';
import { createOutboundPolicy } from '../../net/outbound-policy.js';
import { createProviderClient } from './provider-client.js';

let internal: http.Server;
let port = 0;
const seen: string[] = [];

beforeAll(async () => {
  // An internal service: its discovery path answers 1 KiB of JSON whitespace forever.
  internal = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(1024, ' ');
    const more = () => {
      while (res.write(chunk));
    };
    res.on('drain', more);
    res.on('close', () => res.off('drain', more));
    more();
  });
  await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
  port = (internal.address() as AddressInfo).port;
});

afterAll(async () => {
  internal.closeAllConnections();
  await new Promise((resolve) => internal.close(resolve));
});

const settings = (issuer: string) => ({ issuer, clientId: 'timebox', clientSecret: 'secret' });

async function refusal(run: Promise<unknown>): Promise<AppError> {
  const err = await run.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('discovery through the outbound policy', () => {
  it('refuses an issuer written as a loopback or metadata address; the service sees no request', async () => {
    const client = createProviderClient({ outbound: createOutboundPolicy({ allow: '' }) });
    for (const issuer of [`http://127.0.0.1:${port}/admin`, `http://localhost:${port}/`, `https://0x7f.1:${port}/`, 'https://169.254.169.254/latest/']) {
      const err = await refusal(client.discover(settings(issuer)));
      expect(err.code).toBe('bad_request');
      expect(err.details).toEqual({ sso: 'provider_unreachable' });
      expect(err.message).toMatch(/^the identity provider's address \S+ is (a loopback|a link-local)[^,]*, which this server does not connect to unless its operator allows it/);
    }
    expect(seen).toEqual([]);
  });

  it('refuses a name that resolves inside the network', async () => {
    const resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    const client = createProviderClient({ outbound: createOutboundPolicy({ allow: '', resolver }) });
    const err = await refusal(client.discover(settings(`https://idp.example.test:${port}/`)));
    expect(err.details).toEqual({ sso: 'provider_unreachable' });
    expect(err.message).toMatch(/address idp\.example\.test is a loopback/);
    expect(seen).toEqual([]);
  });

  it('cuts off an answer over 1 MiB with a clear refusal instead of holding it', async () => {
    const client = createProviderClient({ outbound: createOutboundPolicy({ allow: 'loopback' }) });
    const err = await refusal(client.discover(settings(`http://127.0.0.1:${port}/big`)));
    expect(err.details).toEqual({ sso: 'invalid_response' });
    expect(err.message).toMatch(/answered with more than 1 MiB/);
    expect(seen).toEqual(['/big/.well-known/openid-configuration']);
  });
});
