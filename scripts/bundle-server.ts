/**
 * The `timebox` command as `npm start` and the service unit run it: tsc's output (dist/) bundled
 * by esbuild into dist/bundle/timebox.js plus the chunks it loads on first use.
 *
 * Why: Node's ESM loader pays per file (resolve, stat, open, read, the CommonJS lexer for every
 * package file), and the unbundled server loads several hundred files before it answers
 * /healthz. One file for the start path and one chunk per dynamic import cut the CPU until ready
 * by a quarter on PGlite and a third on PostgreSQL (docs/architecture.md, "Production start");
 * what is imported on first use (connector clients, the gateway, the OpenAPI generator) stays a
 * separate chunk loaded then.
 *
 * It bundles tsc's JavaScript, not the TypeScript: the code that runs is the code tsc checked.
 * The agent (`timebox-agent`, dist/agent/program.js) is not bundled: it loads little already.
 *
 *   tsx scripts/bundle-server.ts [distDir]     (default: dist)
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

/** Where the bundle goes, under the dist directory. Two levels deep like tsc's files, so paths a
 * module finds from its own URL (`../../bin/…`, the package root) resolve the same. */
export const BUNDLE_DIR = 'bundle';
/** The bundled `timebox` command (the bundle of cli/main.js), relative to the dist directory. */
export const BUNDLED_CLI = `${BUNDLE_DIR}/timebox.js`;
/** Which input files each output file holds (esbuild's metafile), for tests that check what is loaded. */
export const BUNDLE_META = `${BUNDLE_DIR}/meta.json`;

/**
 * Packages left in node_modules, each because it finds files beside its own code at run time:
 * WebAssembly and data files (PGlite), native addons (argon2, ssh2, cpu-features), worker
 * scripts (pino's transports), its own package.json (@fastify/swagger).
 */
const EXTERNAL = ['@electric-sql/pglite', '@node-rs/argon2', 'ssh2', 'cpu-features', 'pino', '@fastify/swagger'];

/**
 * A package imported with `import()` stays in node_modules, imported by a relative path to the
 * file esbuild resolved. Bundled, `import()` of a CommonJS package yields only `default`, where
 * Node also gives its named exports (`(await import('cookie')).parseCookie`), so bundling would
 * change what such code sees. Nothing imported that way is on the start path, so it costs no
 * start time. The path is the exact file (nested copies included), relative to the bundle, so
 * dist/ and node_modules/ move together.
 */
function lazyPackagesFromNodeModules(outdir: string): Plugin {
  return {
    name: 'lazy-packages-from-node-modules',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.kind !== 'dynamic-import' || args.pluginData === 'inner') return undefined;
        // Built-ins and EXTERNAL resolve as external already, and keep their bare name.
        const resolved = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'inner' });
        if (resolved.errors.length > 0 || resolved.external) return undefined;
        const rel = path.relative(outdir, resolved.path).split(path.sep).join('/');
        return { path: rel.startsWith('.') ? rel : `./${rel}`, external: true };
      });
    },
  };
}

// CommonJS packages inside an ESM bundle still call require() for Node's built-ins.
const BANNER = "import { createRequire as __timeboxCreateRequire } from 'node:module';\nconst require = __timeboxCreateRequire(import.meta.url);";

export async function bundleServer(distDir: string): Promise<void> {
  const outdir = path.resolve(distDir, BUNDLE_DIR);
  // Chunk names carry a content hash: an earlier build's chunks would stay beside the new ones.
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    entryPoints: { timebox: path.join(distDir, 'cli', 'main.js') },
    outdir,
    plugins: [lazyPackagesFromNodeModules(outdir)],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL.flatMap((p) => [p, `${p}/*`]),
    banner: { js: BANNER },
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    // Names of functions and classes stay as written: logs and errors show them. Whitespace and
    // syntax are minified (a third less to read and parse at start: about 0.1 s of CPU); the
    // source map beside each file maps stack traces back (node --enable-source-maps).
    keepNames: true,
    minifyWhitespace: true,
    minifySyntax: true,
    // The metafile's paths are relative to the dist directory.
    absWorkingDir: path.resolve(distDir),
  });
  await writeFile(path.join(distDir, BUNDLE_META), JSON.stringify(result.metafile));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const distDir = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist'));
  await bundleServer(distDir);
}
