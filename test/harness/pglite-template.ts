/**
 * A new embedded store (PGlite) as a fresh install has it once migrated, made once per test run
 * by the global setup (`inject('pgliteTemplate')`) and copied for each store a test opens.
 *
 * Why: PGlite creates a new data directory by running initdb inside WebAssembly, about 3-4 s of
 * CPU each time on a two-core test machine, and then every migration; a copy and an open cost
 * under 1 s. Tests open about a hundred such stores. The template is made by the same
 * `openStore` (initdb, then every migration), so a copy is what a first start leaves behind;
 * opening it still runs the migrator, which finds nothing to do.
 */
import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { openStore, type Store } from '../../src/store/db.js';

/** Makes the template in `dir` (created, must not hold a store yet): a store opened and closed. */
export async function makePgliteTemplate(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const store = await openStore({ dataDir: dir });
  await store.close();
  return dir;
}

/**
 * Fills `dir` (created when missing; whatever else is in it stays, e.g. a master key file) with
 * a copy of this run's template, so a server given it as TIMEBOX_DATA_DIR starts on a migrated,
 * empty store. Returns `dir`.
 */
export async function seedDataDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await readdir(dir)).includes('PG_VERSION')) throw new Error(`${dir} already holds a store`);
  await cp(inject('pgliteTemplate'), dir, { recursive: true });
  return dir;
}

/** An empty embedded store of its own (what `openStore({ dataDir: 'memory://' })` gives), its files removed on close. */
export async function openTestStore(): Promise<Store> {
  const dir = await seedDataDir(await mkdtemp(path.join(tmpdir(), 'timebox-store-')));
  const store = await openStore({ dataDir: dir });
  return {
    ...store,
    async close() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
