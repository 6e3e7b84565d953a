// Runs one of the package's entry points: the compiled JavaScript in dist/ (`npm run build`) when
// present, else the TypeScript source through tsx in this process (a development checkout).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `entry` is a path under src/ and dist/ without extension, e.g. `cli/main`. */
export async function runEntry(entry) {
  const compiled = new URL(`../dist/${entry}.js`, import.meta.url);
  if (existsSync(fileURLToPath(compiled))) return import(compiled.href);
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(`${fileURLToPath(compiled)} is missing: build it with \`npm run build\`\n`);
    process.exit(1);
  }
  register();
  return import(new URL(`../src/${entry}.ts`, import.meta.url).href);
}
