// Runs one of the package's entry points: the compiled JavaScript in dist/ (`npm run build`) when
// present, else the TypeScript source through tsx in this process (a development checkout).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Entry points that `npm run build` also bundles (scripts/bundle-server.ts): the bundle starts faster.
const BUNDLED = { 'cli/main': 'bundle/timebox' };

/** `entry` is a path under src/ and dist/ without extension, e.g. `cli/main`. */
export async function runEntry(entry) {
  for (const built of [BUNDLED[entry], entry].filter(Boolean)) {
    const compiled = new URL(`../dist/${built}.js`, import.meta.url);
    if (existsSync(fileURLToPath(compiled))) return import(compiled.href);
  }
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(`${fileURLToPath(new URL(`../dist/${entry}.js`, import.meta.url))} is missing: build it with \`npm run build\`\n`);
    process.exit(1);
  }
  register();
  return import(new URL(`../src/${entry}.ts`, import.meta.url).href);
}
