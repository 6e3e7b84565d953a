/**
 * The contract as the credential kinds keep it, on a real embedded store with a fake clock:
 * granting twice leaves one working credential, revoke is idempotent and leaves expired
 * credentials alone, verify sees what still works, and a spec without the core's context is refused.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetError } from '../../core/errors.js';
import { fakeClock } from '../../core/clock.js';
import { createAuditLog } from '../../audit/audit-log.js';
import { createCredentialEngines, type CredentialEngines } from '../../credentials/index.js';
import { createSecretBox } from '../../secrets/envelope.js';
import type { Store } from '../../store/db.js';
import { openTestStore } from '../../../test/harness/pglite-template.js';
import type { ConnectorInstance, GrantSpec, RevokeSpec } from '../contract.js';
import { securityTokenConnector } from './security-token.js';
import { sshCertificateConnector } from './ssh-certificate.js';
import { x509CertificateConnector } from './x509-certificate.js';

const clock = fakeClock(new Date());
const ctx = { log: pino({ level: 'silent' }) };
let store: Store;
let kit: CredentialEngines;
let tenantId: string;
let tokens: ConnectorInstance;

const spec = (grantId: string, over: Partial<GrantSpec> = {}): GrantSpec => ({
  grantId,
  tenantId,
  requester: { operatorId: randomUUID(), email: 'dana@example.com' },
  startsAt: clock.now(),
  account: { username: 'dana@example.com', ownerDisplay: 'Dana <dana@example.com>' },
  entitlements: ['logs:read'],
  notAfter: new Date(+clock.now() + 600_000),
  accountNotAfter: new Date(+clock.now() + 600_000),
  reason: 'test',
  password: 'unused-Password-1',
  ...over,
});
const revokeSpec = (grantId: string): RevokeSpec => ({ grantId, tenantId, handle: {}, retain: [], accountStillNeededUntil: null, rotatePassword: 'x' });

beforeAll(async () => {
  store = await openTestStore();
  kit = createCredentialEngines({ db: store.db, box: createSecretBox(randomBytes(32)), clock, audit: createAuditLog({ clock }), tokenIssuer: 'https://timebox.test' });
  tenantId = randomUUID();
  await store.db.insertInto('tenants').values({ id: tenantId, slug: `t-${tenantId.slice(0, 8)}`, name: 'test', created_at: clock.now() }).execute();
  const services = { credentials: kit, clock };
  tokens = securityTokenConnector.create(securityTokenConnector.configSchema.parse({ audience: 'https://api.test', scopes: ['logs:read'] }), services);
});
afterAll(async () => {
  await store?.close();
});

describe('credential connectors', () => {
  it('granting twice leaves one working credential: the earlier one is revoked as superseded', async () => {
    const grantId = randomUUID();
    const first = await tokens.grant(ctx, spec(grantId));
    const second = await tokens.grant(ctx, spec(grantId));
    expect(second.handle.jti).not.toBe(first.handle.jti);
    const issued = await kit.issued.listForGrant(grantId);
    expect(issued.map((c) => c.revocationReason)).toEqual(['superseded', null]);
    expect((await kit.tokens.introspect(tenantId, first.credential!.token!)).active).toBe(false);
    expect((await kit.tokens.introspect(tenantId, second.credential!.token!)).active).toBe(true);
    expect((await tokens.verify(ctx, revokeSpec(grantId))).state).toBe('present');
  });

  it('revoke is idempotent; verify then finds nothing', async () => {
    const grantId = randomUUID();
    await tokens.grant(ctx, spec(grantId));
    await tokens.revoke(ctx, revokeSpec(grantId));
    await tokens.revoke(ctx, revokeSpec(grantId));
    expect(await tokens.verify(ctx, revokeSpec(grantId))).toEqual({ state: 'absent', findings: [] });
    expect((await kit.issued.listForGrant(grantId)).map((c) => c.revocationReason)).toEqual(['privilegeWithdrawn']);
  });

  it('leaves an expired credential alone: it works nowhere, and a KRL/CRL need not list it', async () => {
    const grantId = randomUUID();
    await tokens.grant(ctx, spec(grantId, { notAfter: new Date(+clock.now() + 60_000) }));
    clock.advance(60_000);
    expect((await tokens.verify(ctx, revokeSpec(grantId))).state).toBe('absent');
    await tokens.revoke(ctx, revokeSpec(grantId));
    expect((await kit.issued.listForGrant(grantId)).map((c) => c.revokedAt)).toEqual([null]);
  });

  it('refuses a spec without the tenant or start (invalid: retrying would not help)', async () => {
    const err = await tokens.grant(ctx, spec(randomUUID(), { tenantId: undefined })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetError);
    expect((err as TargetError).errorClass).toBe('invalid');
  });

  it('checks request input: keys by kind, principals and roles by name', async () => {
    expect(await sshCertificateConnector.validateRequest!({ entitlements: ['deploy'], publicKey: 'ssh-dss AAAA' })).toMatch(/DSA/);
    expect(await x509CertificateConnector.validateRequest!({ entitlements: ['r'], publicKey: 'nope' })).toMatch(/PEM/);
    expect(await securityTokenConnector.validateRequest!({ entitlements: ['s'], publicKey: 'x' })).toMatch(/no public key/);
    expect(await securityTokenConnector.validateRequest!({ entitlements: ['s'] })).toBeNull();
    expect(sshCertificateConnector.validateEntitlementName('a,b')).toMatch(/contains ','/);
    expect(x509CertificateConnector.validateEntitlementName('a b')).toMatch(/must be/);
    expect(x509CertificateConnector.validateAccountName(`${'a'.repeat(60)}@example.com`)).toMatch(/longer than 64/);
    expect(sshCertificateConnector.configSchema.safeParse({}).success).toBe(false);
    // Principal patterns run on RE2: what backtracks elsewhere is fine, what RE2 lacks is refused by name.
    const lookahead = sshCertificateConnector.configSchema.safeParse({ principalPattern: '(?=app-)[a-z-]+' });
    expect(lookahead.success).toBe(false);
    expect(JSON.stringify(lookahead.error?.issues)).toMatch(/the principal pattern uses lookahead/);
    expect(sshCertificateConnector.configSchema.safeParse({ principalPattern: '(a+)+' }).success).toBe(true);
    expect(sshCertificateConnector.configSchema.safeParse({ principalPattern: 'app-[a-z]+' }).success).toBe(true);
  });

  it('a principal pattern answers a search for a name it allows', async () => {
    const ssh = sshCertificateConnector.create(sshCertificateConnector.configSchema.parse({ principalPattern: 'app-[a-z]+' }), { credentials: kit, clock });
    expect((await ssh.listEntitlements(ctx, { search: 'app-web', limit: 10 })).items.map((i) => i.externalId)).toEqual(['app-web']);
    expect((await ssh.listEntitlements(ctx, { search: 'root', limit: 10 })).items).toEqual([]);
    expect((await ssh.listEntitlements(ctx, { search: 'app-a,b', limit: 10 })).items).toEqual([]);
  });
});
