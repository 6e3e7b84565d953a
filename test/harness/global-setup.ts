/**
 * One real PostgreSQL for the whole test run. Each test file creates its own database (and
 * uniquely named roles) through `createTestDatabase(inject('pgAdminUrl'))`, so files never share
 * state. Set TIMEBOX_TEST_PG_ADMIN_URL to use an existing server (a CI service) instead.
 */
import type { TestProject } from 'vitest/node';
import { startPostgres } from './postgres.js';

export default async function setup(project: TestProject) {
  const external = process.env.TIMEBOX_TEST_PG_ADMIN_URL;
  if (external) {
    project.provide('pgAdminUrl', external);
    return async () => {};
  }
  const cluster = await startPostgres({ name: 'global' });
  project.provide('pgAdminUrl', cluster.adminUrl);
  return async () => {
    await cluster.destroy();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}
