/**
 * Type-level test, checked by `npm run typecheck` (never run): a client that reads a field the
 * contract does not have, sends one it does not take, or leaves out what an endpoint needs does
 * not compile. Each `@ts-expect-error` fails the type check if the line below it ever compiles.
 */
import type { ApiClient } from '../../src/api/client.js';
import type { Grant } from '../../src/api/types.js';

export async function driftDoesNotCompile(api: ApiClient): Promise<void> {
  const params = { tenant: 'acme', grantId: '0b6f4c1e-6a1e-4f7e-9d3c-2f6a0e8b1c2d' };
  const grant = await api.call('getGrant', { params });
  const state: Grant['state'] = grant.state; // a field of the contract: fine
  void state;

  // @ts-expect-error a grant has no `owner` in the contract (it has operatorId and operatorEmail)
  void grant.owner;

  // @ts-expect-error a grant's state is one of the core's grant states, not any string
  const wrong: typeof grant.state = 'paused';
  void wrong;

  // @ts-expect-error the path needs its params
  await api.call('getGrant');

  // @ts-expect-error the revoke body has `reason`, not `why`
  await api.call('revokeGrant', { params, body: { why: 'done' } });

  // @ts-expect-error no endpoint has this key
  await api.call('getGrants', { params });

  const page = await api.pages('listTargets', { params: { tenant: 'acme' } });
  // @ts-expect-error a target has no `host` in the contract (connection settings stay on the server)
  void page.items[0]?.host;
}
