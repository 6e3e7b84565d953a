/**
 * The dashboard as people get it (`vite build` of web/, React's production build), built once per
 * test run by the global setup into a directory of the run's own (`inject('spaDir')`). The
 * dashboard tests serve it; none of them changes it.
 */
import { join } from 'node:path';
import { repoRoot } from './build.js';

/** Builds into `outDir` (emptied first) and returns it. */
export async function buildSpa(outDir: string): Promise<string> {
  const { build } = await import('vite');
  // vitest sets NODE_ENV=test, which would give React's development build: test what people get.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: join(repoRoot, 'web', 'vite.config.ts'),
      mode: 'production',
      logLevel: 'error',
      build: { outDir, emptyOutDir: true },
      // …except that every answer is checked against the API contract, so drift fails the test.
      define: { 'import.meta.env.VITE_TIMEBOX_CHECK_RESPONSES': JSON.stringify('1') },
    });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  return outDir;
}
