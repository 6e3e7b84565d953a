/**
 * Our own programs (CLI, server, gateway, agent) as tests start them in child processes: plain
 * node on the build of src/ that the global setup made for this run, since starting through the
 * tsx loader costs over half a second more per process. Only in test files and what they import
 * (it reads `inject`); test-only TypeScript helpers still run through tsx.
 */
import path from 'node:path';
import { inject } from 'vitest';
import { BUNDLED_CLI } from '../../scripts/bundle-server.js';

/**
 * The compiled JavaScript of `entry` (a path under src/ without extension, as in bin/run-entry.js):
 * for the `timebox` command its bundle, which is what `npm start` runs.
 */
export function compiledEntry(entry: 'cli/main' | 'agent/program'): string {
  const dir = inject('buildDir');
  if (!dir) throw new Error('no build of src/ in this run: test/harness/global-setup.ts provides it');
  return path.join(dir, entry === 'cli/main' ? BUNDLED_CLI : `${entry}.js`);
}
