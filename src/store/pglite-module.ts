/**
 * The embedded store's WebAssembly, compiled once per process. V8 compiles it on background
 * threads: `timebox serve` starts this before it loads the server's modules, so the two happen
 * at the same time instead of one after the other. Nothing here loads PGlite itself.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import v8 from 'node:v8';
import type { PGliteOptions } from '@electric-sql/pglite';

type WasmModule = NonNullable<PGliteOptions['pgliteWasmModule']>;

// Node has the WebAssembly global; the server's type libraries do not declare it.
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;

let compiled: Promise<WasmModule> | undefined;

export function pgliteWasmModule(): Promise<WasmModule> {
  compiled ??= (async () => {
    // Baseline code only (Liftoff). Otherwise V8 recompiles PostgreSQL's hot functions with its
    // optimising compiler in the first seconds: about 0.8 s of CPU while the server starts and
    // 40-70 MB of resident memory for as long as it runs. Set before the only compilation of
    // WebAssembly in the server; the figures with and without are in docs/architecture.md.
    v8.setFlagsFromString('--liftoff-only');
    // The package's own file, next to the entry point that will instantiate it.
    const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
    return wasm.compile(await readFile(path.join(path.dirname(entry), 'pglite.wasm')));
  })();
  return compiled;
}
