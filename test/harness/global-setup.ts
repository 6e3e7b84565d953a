/**
 * One real PostgreSQL for the whole test run. Each test file creates its own database (and
 * uniquely named roles) through `createTestDatabase(inject('pgAdminUrl'))`, so files never share
 * state. Set TIMEBOX_TEST_PG_ADMIN_URL to use an existing server (a CI service) instead.
 *
 * And one build of src/ for the run (`inject('buildDir')`, see compiled.ts), from which tests start
 * our programs as child processes. Made afresh on every run, so the children run the code in the
 * tree; in a directory of this run's own, so a second run at the same time does not replace it.
 * Emit only: `npm test` checks types before, and like tsx the build does not refuse a type error.
 */
import { rm } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';
import { buildOnce, buildOutDir } from './build.js';
import { startPostgres } from './postgres.js';

export default async function setup(project: TestProject) {
  const buildName = `suite-${process.pid}`;
  const external = process.env.TIMEBOX_TEST_PG_ADMIN_URL;
  // The two overlap; if one fails, what the other made is removed.
  const [build, pg] = await Promise.allSettled([buildOnce(buildName, { typecheck: false }), external ? null : startPostgres({ name: 'global' })]);
  const cluster = pg.status === 'fulfilled' ? pg.value : null;
  const teardown = async () => {
    await cluster?.destroy();
    await rm(buildOutDir(buildName), { recursive: true, force: true });
  };
  if (build.status === 'rejected' || pg.status === 'rejected') {
    await teardown();
    throw (build.status === 'rejected' ? build : (pg as PromiseRejectedResult)).reason;
  }
  project.provide('buildDir', build.value);
  project.provide('pgAdminUrl', external ?? cluster!.adminUrl);
  // Watch mode: a rerun runs the source as it is now.
  project.onTestsRerun(async () => {
    await buildOnce(buildName, { typecheck: false });
  });
  return teardown;
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    /** This run's build of src/ (tsc -p tsconfig.build.json); entry points through compiled.ts. */
    buildDir: string;
  }
}
