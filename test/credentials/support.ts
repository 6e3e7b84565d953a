/** A throwaway embedded store with one tenant, and the credential engines wired to it. */
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createAuditLog } from '../../src/audit/audit-log.js';
import type { Clock } from '../../src/core/clock.js';
import { createCredentialEngines } from '../../src/credentials/index.js';
import { createSecretBox } from '../../src/secrets/envelope.js';
import type { Store } from '../../src/store/db.js';
import { openTestStore } from '../harness/pglite-template.js';

export const ISSUER = 'https://timebox.test';

export async function credentialKit(clock: Clock) {
  const store: Store = await openTestStore();
  const box = createSecretBox(randomBytes(32));
  const engines = createCredentialEngines({ db: store.db, box, clock, audit: createAuditLog({ clock }), tokenIssuer: ISSUER });
  return {
    store,
    box,
    ...engines,
    async tenant(slug = `t-${randomBytes(4).toString('hex')}`): Promise<string> {
      const id = randomUUID();
      await store.db.insertInto('tenants').values({ id, slug, name: slug, created_at: clock.now() }).execute();
      return id;
    },
    close: () => store.close(),
  };
}

export type CredentialKit = Awaited<ReturnType<typeof credentialKit>>;

/** A private (0700) scratch directory for a test file; remove it in afterAll. */
export async function scratchDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'timebox-cred-test-'));
  await chmod(dir, 0o700);
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export const seconds = (n: number) => n * 1000;
