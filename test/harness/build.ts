/**
 * The compiled server and agent, as `npm run build` makes them (tsc -p tsconfig.build.json, then
 * the server's bundle: scripts/bundle-server.ts), into a directory of the checkout (so packages
 * resolve from its node_modules and the dashboard from its dist/web). Tests and the benchmark
 * start production processes from it.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleServer } from '../../scripts/bundle-server.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The directory of the build `name`: `<repo>/.tmp/<name>`. */
export const buildOutDir = (name: string): string => path.join(repoRoot, '.tmp', name);

/**
 * Compiles src/ into `buildOutDir(name)` (replacing what was there) and bundles the server there;
 * returns that directory.
 * `typecheck: false` only emits (--noCheck): the same JavaScript in a fraction of the time, for
 * callers whose types are checked elsewhere.
 */
export async function buildOnce(name: string, opts: { typecheck?: boolean } = {}): Promise<string> {
  const outDir = buildOutDir(name);
  await rm(outDir, { recursive: true, force: true });
  const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir, ...(opts.typecheck === false ? ['--noCheck'] : [])];
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, args, { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`tsc -p tsconfig.build.json failed: ${stdout}${stderr}`)) : resolve(),
    ),
  );
  await bundleServer(outDir);
  return outDir;
}
