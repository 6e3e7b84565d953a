/**
 * The import rule of the endpoint agent: src/agent/** imports only src/core, the wire contract
 * (src/agent-wire) and a few small packages — never the server, the store, connectors or the
 * operator CLI — so `timebox-agent`, a root process on every host, loads none of them. The
 * TypeScript compiler itself lists every import (static, dynamic and type-only) of every agent
 * file and of what those files reach (`tsc --explainFiles`).
 */
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '../..');
/** Where the agent's code may come from. */
const ALLOWED_DIRS = ['src/agent/', 'src/agent-wire/', 'src/core/'];
/** Packages the agent may load (node: built-ins are always allowed). */
const ALLOWED_PACKAGES = new Set(['commander', 'nodemailer', 'pino', 'zod']);

interface Edge {
  from: string;
  specifier: string;
  /** The file the specifier resolved to, relative to the repository (packages: under node_modules). */
  to: string;
}

/** Import edges out of `tsc --explainFiles` output: a file line, then its "Imported via" lines. */
function importEdges(explain: string): Edge[] {
  const edges: Edge[] = [];
  let file: string | null = null;
  for (const line of explain.split('\n')) {
    if (line.length > 0 && !/^\s/.test(line)) file = line.trim();
    const m = /^\s+Imported via '([^']+)' from file '([^']+)'/.exec(line);
    if (m && file) edges.push({ from: m[2]!, specifier: m[1]!, to: file });
  }
  return edges;
}

const packageOf = (specifier: string) => (specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);

/** The rule broken, one sentence per import; empty when the agent keeps to it. */
function forbiddenImports(edges: Edge[]): string[] {
  const problems = new Set<string>();
  for (const e of edges) {
    // Only where the agent's own code crosses the line (not the imports of what it wrongly reached).
    if (!ALLOWED_DIRS.some((d) => e.from.startsWith(d))) continue;
    if (e.specifier.startsWith('.')) {
      if (!ALLOWED_DIRS.some((d) => e.to.startsWith(d))) {
        problems.add(`${e.from} imports ${e.specifier} (${e.to}): the agent may import only ${ALLOWED_DIRS.join(', ')}`);
      }
    } else if (!e.specifier.startsWith('node:') && !ALLOWED_PACKAGES.has(packageOf(e.specifier))) {
      problems.add(`${e.from} imports the package ${e.specifier}: not one the agent may load (${[...ALLOWED_PACKAGES].join(', ')})`);
    }
  }
  return [...problems];
}

async function agentSources(dir = 'src/agent'): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(repoRoot, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await agentSources(rel)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) out.push(rel);
  }
  return out;
}

function explainFiles(files: string[]): Promise<string> {
  const tsc = path.join(repoRoot, 'node_modules/typescript/bin/tsc');
  const args = [tsc, '--ignoreConfig', '--noEmit', '--explainFiles', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck', ...files];
  return new Promise((resolve, reject) =>
    execFile(process.execPath, args, { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      // Type errors set a non-zero exit too; the file list is printed either way.
      if (!stdout.includes('Imported via')) reject(new Error(`tsc listed no imports: ${String(err)}\n${stderr}`));
      else resolve(stdout);
    }),
  );
}

describe('the agent import rule', () => {
  it('src/agent imports only src/core, src/agent-wire and its few packages', async () => {
    const files = await agentSources();
    expect(files).toContain('src/agent/program.ts');
    const edges = importEdges(await explainFiles(files));
    // The walk really went through the agent's graph (a parsing slip would find nothing).
    expect(edges.some((e) => e.from === 'src/agent/main.ts' && e.to === 'src/agent/enforcer.ts')).toBe(true);
    const problems = forbiddenImports(edges);
    expect(problems, `The endpoint agent must not load the server or the CLI:\n${problems.join('\n')}`).toEqual([]);
  }, 120_000);

  it('names the importing file and the import when the rule is broken', () => {
    const explain = [
      'src/store/db.ts',
      "   Imported via '../store/db.js' from file 'src/agent/main.ts'",
      'node_modules/fastify/fastify.d.ts',
      "   Imported via 'fastify' from file 'src/agent/reporter.ts' with packageId 'fastify/fastify.d.ts@5.12.0'",
      "   Imported via 'fastify' from file 'node_modules/x/index.d.ts'",
      'src/core/clock.ts',
      "   Imported via '../core/clock.js' from file 'src/agent/main.ts'",
    ].join('\n');
    expect(forbiddenImports(importEdges(explain))).toEqual([
      'src/agent/main.ts imports ../store/db.js (src/store/db.ts): the agent may import only src/agent/, src/agent-wire/, src/core/',
      'src/agent/reporter.ts imports the package fastify: not one the agent may load (commander, nodemailer, pino, zod)',
    ]);
  });
});
