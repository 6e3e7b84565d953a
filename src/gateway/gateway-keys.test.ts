import { sql } from 'kysely';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../audit/audit-log.js';
import { fakeClock } from '../core/clock.js';
import { createSecretBox } from '../secrets/envelope.js';
import type { Store } from '../store/db.js';
import { openTestStore } from '../../test/harness/pglite-template.js';
import { isWellFormedEd25519, newEd25519KeyPair } from './ed25519-keypair.js';
import { gatewayKey } from './gateway-keys.js';

// A pair as ssh2's generator makes it about once in 200 draws: the public key lost its leading zero byte.
const MALFORMED = {
  privateKey: [
    '-----BEGIN OPENSSH PRIVATE KEY-----',
    'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMgAAAAtz',
    'c2gtZWQyNTUxOQAAAB+1aRkJC3y7FFw/O8Z2Sl0W13W5+6CrT+YbMtUK71Y1AAAA',
    'iBsqMpIbKjKSAAAAC3NzaC1lZDI1NTE5AAAAH7VpGQkLfLsUXD87xnZKXRbXdbn7',
    'oKtP5hsy1QrvVjUAAAA/cyEXAdiYR2X4E0smhO7RnSLnIskHeacMxcSisNIG/z+1',
    'aRkJC3y7FFw/O8Z2Sl0W13W5+6CrT+YbMtUK71Y1AAAAAXgBAgMEBQY=',
    '-----END OPENSSH PRIVATE KEY-----',
    '',
  ].join('\n'),
  publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAH7VpGQkLfLsUXD87xnZKXRbXdbn7oKtP5hsy1QrvVjU x',
};

describe('Ed25519 key pairs', () => {
  it('refuses the malformed pair ssh2 sometimes makes', () => {
    expect(ssh2.utils.parseKey(MALFORMED.privateKey)).toBeInstanceOf(Error);
    expect(isWellFormedEd25519(MALFORMED.privateKey, MALFORMED.publicKey)).toBe(false);
  });

  it('never hands out a pair ssh2 cannot read back (1,000 draws; unchecked, one in about 200 fails)', () => {
    for (let i = 0; i < 1000; i++) {
      const pair = newEd25519KeyPair('test');
      const parsed = ssh2.utils.parseKey(pair.privateKey);
      if (parsed instanceof Error) throw new Error(`draw ${i} cannot be read back: ${parsed.message}`);
      expect(isWellFormedEd25519(pair.privateKey, pair.publicKey)).toBe(true);
    }
  });
});

describe('a malformed gateway key stored by an earlier version', () => {
  let store: Store;
  const clock = fakeClock('2026-03-01T08:00:00.000Z');
  const secrets = createSecretBox(Buffer.alloc(32, 7));
  const audit = createAuditLog({ clock });

  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(async () => {
    await store?.close();
  });

  it('is replaced by a readable key the first time it is read, and the replacement is audited', async () => {
    await sql`INSERT INTO gateway_keys (name, algorithm, public_key, private_key_enc, created_at)
      VALUES ('host', 'ssh-ed25519', ${MALFORMED.publicKey}, ${secrets.encrypt(MALFORMED.privateKey, 'gateway-key:host')}, ${clock.now()})`.execute(store.db);
    const deps = { db: store.db, secrets, clock, audit };
    const key = await gatewayKey(deps, 'host');
    expect(key.publicKey).not.toBe(MALFORMED.publicKey);
    expect(ssh2.utils.parseKey(key.privateKey)).not.toBeInstanceOf(Error);
    // Read again: the same new key, not another replacement.
    expect((await gatewayKey(deps, 'host')).fingerprint).toBe(key.fingerprint);
    const events = await store.db.selectFrom('audit_events').select(['action', 'after']).where('action', '=', 'gateway.key_replaced').execute();
    expect(events).toEqual([{ action: 'gateway.key_replaced', after: { key: 'host', fingerprint: key.fingerprint } }]);
  });
});
