/**
 * One real PostgreSQL for the whole test run. Each test file creates its own database (and
 * uniquely named roles) through `createTestDatabase(inject('pgAdminUrl'))`, so files never share
 * state. Set TIMEBOX_TEST_PG_ADMIN_URL to use an existing server (a CI service) instead.
 *
 * And one build of src/ for the run (`inject('buildDir')`, see compiled.ts), from which tests start
 * our programs as child processes. Made afresh on every run, so the children run the code in the
 * tree; in a directory of this run's own, so a second run at the same time does not replace it.
 * Emit only: `npm test` checks types before, and like tsx the build does not refuse a type error.
 * Likewise one production build of the dashboard (`inject('spaDir')`, see spa-build.ts), and one
 * migrated embedded store that tests copy instead of creating their own (`inject('pgliteTemplate')`,
 * see pglite-template.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildOnce, buildOutDir } from './build.js';
import { buildSpa } from './spa-build.js';
import { makePgliteTemplate } from './pglite-template.js';
import { startPostgres } from './postgres.js';

interface Shared {
  buildName: string;
  buildDir: string;
  spaDir: string;
  pgliteTemplate: string;
  pgAdminUrl: string;
  projects: number;
  /** A rebuild in watch mode, shared by the projects that rerun at once. */
  rebuilding: Promise<unknown> | null;
  teardown(): Promise<void>;
}

async function prepare(): Promise<Shared> {
  const buildName = `suite-${process.pid}`;
  const external = process.env.TIMEBOX_TEST_PG_ADMIN_URL;
  const spaDir = await mkdtemp(join(tmpdir(), 'timebox-web-'));
  const pgliteTemplate = await mkdtemp(join(tmpdir(), 'timebox-pglite-template-'));
  // The four overlap; if one fails, what the others made is removed.
  const [build, spa, pg, template] = await Promise.allSettled([
    buildOnce(buildName, { typecheck: false }),
    buildSpa(spaDir),
    external ? null : startPostgres({ name: 'global' }),
    makePgliteTemplate(pgliteTemplate),
  ]);
  const cluster = pg.status === 'fulfilled' ? pg.value : null;
  const teardown = async () => {
    await cluster?.destroy();
    await rm(buildOutDir(buildName), { recursive: true, force: true });
    await rm(spaDir, { recursive: true, force: true });
    await rm(pgliteTemplate, { recursive: true, force: true });
  };
  const failed = [build, spa, pg, template].find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await teardown();
    throw failed.reason;
  }
  const buildDir = (build as PromiseFulfilledResult<string>).value;
  return { buildName, buildDir, spaDir, pgliteTemplate, pgAdminUrl: external ?? cluster!.adminUrl, projects: 0, rebuilding: null, teardown };
}

// vitest calls this once per test project (vitest.config.ts), in one process: the projects share
// one cluster and one set of builds, removed when the last project is done.
const SHARED = Symbol.for('timebox.test.global-setup');
const registry = globalThis as { [SHARED]?: Promise<Shared> };

export default async function setup(project: TestProject) {
  const shared = await (registry[SHARED] ??= prepare());
  shared.projects++;
  project.provide('buildDir', shared.buildDir);
  project.provide('spaDir', shared.spaDir);
  project.provide('pgliteTemplate', shared.pgliteTemplate);
  project.provide('pgAdminUrl', shared.pgAdminUrl);
  // Watch mode: a rerun runs the source as it is now.
  project.onTestsRerun(async () => {
    shared.rebuilding ??= Promise.all([buildOnce(shared.buildName, { typecheck: false }), buildSpa(shared.spaDir)]).finally(() => {
      shared.rebuilding = null;
    });
    await shared.rebuilding;
  });
  return async () => {
    if (--shared.projects > 0) return;
    delete registry[SHARED];
    await shared.teardown();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    /** This run's build of src/ (tsc -p tsconfig.build.json); entry points through compiled.ts. */
    buildDir: string;
    /** This run's production build of the dashboard (spa-build.ts). */
    spaDir: string;
    /** A migrated, empty embedded store to copy (pglite-template.ts); never opened by a test itself. */
    pgliteTemplate: string;
  }
}
