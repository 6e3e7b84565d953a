/**
 * Layers talk in data: the server's layers (app, http, server, scheduler) never decide anything
 * by matching the words of another layer's errors, refusals, findings or journal entries, since
 * rewording a message would silently change behaviour. This reads their source line by line and
 * fails on:
 * - a regular expression tested against, or matched by, text named like a message
 *   (`/already/.test(refusal)`, `/activation refused/.test(e.message)`, `message.match(/…/)`);
 * - a substring search of such text (`err.message.includes('…')`, `.startsWith`, `.endsWith`);
 * - an SQL LIKE over a message column (`.where('message', 'like', …)`).
 * The allow-list names the few places that read a library's wording for lack of a code.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const layers = ['src/app', 'src/http', 'src/server', 'src/scheduler'];

/** Text that is another layer's sentence, by the names it travels under. */
const SENTENCE = /^(message|messages|reason|refusal|error|err|finding|findings|detail|details|text|stderr|stdout|lastError|last_error|endReason|end_reason|failure)$/;
const TEXT_COLUMNS = new Set(['message', 'reason', 'last_error', 'end_reason', 'agent_message']);

/** file → why it may read words (a library's, with no code to read instead). */
const allowed: Record<string, string> = {
  'src/http/error-handler.ts': "zod's issue text says whether a field was missing; its code (invalid_type) does not",
};

interface Hit {
  file: string;
  line: number;
  code: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((d) => {
    const rel = `${dir}/${d.name}`;
    if (d.isDirectory()) return sourceFiles(rel);
    return d.name.endsWith('.ts') && !d.name.endsWith('.test.ts') && !d.name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** Does a (receiver or argument) expression end in, or contain, a name a sentence travels under? */
const namesSentence = (expr: string) => expr.split(/[^\w$]+/).some((part) => SENTENCE.test(part));
const lastName = (expr: string) => expr.split('.').pop() ?? '';

const REGEX = String.raw`\/(?:\\.|\[(?:\\.|[^\]\n])*\]|[^/\n\\[])+\/[dgimsuvy]*`;
/** `/re/.test(arg)`, `/re/.exec(arg)`, `new RegExp(…).test(arg)`. */
const TESTED = new RegExp(String.raw`(${REGEX}|\bnew RegExp\([^)]*\))\.(?:test|exec)\(([^()]*(?:\([^()]*\)[^()]*)*)\)`, 'g');
/** A pattern of words and spaces matches prose, whatever the text is called. */
const PROSE = /[A-Za-z]{2,} [A-Za-z]{2,}/;
/** `text.match(/re/)`, `.matchAll`, `.search`. */
const MATCHED = new RegExp(String.raw`([\w$.?!\]\[]+)\.(?:match|matchAll|search)\(\s*(?:${REGEX}|new RegExp)`, 'g');
/** `text.includes('…')`, `.startsWith`, `.endsWith` with a literal. */
const SEARCHED = /([\w$.?!\][]+)\.(?:includes|startsWith|endsWith)\(\s*['"`]/g;
/** Kysely `.where('message', 'like', …)`. */
const LIKE = /\.where\(\s*'([\w.]+)'\s*,\s*'(?:not )?i?like'/g;

export function findSentenceParsing(file: string, text: string): Hit[] {
  const hits: Hit[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/^\s*(\/\/|\*|\/\*).*$/, ''); // comments say what, they do not decide
    const hit = () => hits.push({ file, line: i + 1, code: raw.trim().slice(0, 120) });
    for (const m of line.matchAll(TESTED)) if (namesSentence(m[2]!) || PROSE.test(m[1]!)) return hit();
    for (const m of line.matchAll(MATCHED)) if (SENTENCE.test(lastName(m[1]!).replace(/[?!]/g, ''))) return hit();
    for (const m of line.matchAll(SEARCHED)) if (SENTENCE.test(lastName(m[1]!).replace(/[?!]/g, ''))) return hit();
    for (const m of line.matchAll(LIKE)) if (TEXT_COLUMNS.has(lastName(m[1]!))) return hit();
  });
  return hits;
}

describe('no layer parses another layer’s sentences', () => {
  it('finds what it is meant to find (the rule itself)', () => {
    const bad = [
      "if (/already/.test(refusal)) throw conflict(refusal);",
      "if (e.event === 'error' && /activation refused/.test(e.message)) end();",
      "const m = /^(\\S+) is a member of (.+)$/.exec(finding);",
      "if (/never expires/.test(f)) drift.push(f);",
      "if (err.message.includes('not a Timebox JIT account')) skip();",
      "const x = message.match(/later than (\\S+)/);",
      "db.selectFrom('alerts').where('message', 'like', 'Drift%');",
    ];
    for (const line of bad) expect(findSentenceParsing('x.ts', line), line).toHaveLength(1);
    const fine = [
      "if (isConflict(refusal)) throw conflict(refusal.message);",
      "if (!UUID_RE.test(e.grantId)) continue;",
      "if (/^\\d+$/.test(value)) n = Number(value);",
      "db.selectFrom('alerts').where('kind', '=', 'drift');",
    ];
    for (const line of fine) expect(findSentenceParsing('x.ts', line), line).toEqual([]);
  });

  it('the server layers decide on codes and data, never on words', () => {
    const hits = layers
      .flatMap(sourceFiles)
      .filter((f) => !(f in allowed))
      .flatMap((f) => findSentenceParsing(f, readFileSync(path.join(root, f), 'utf8')));
    expect(hits.map((h) => `${h.file}:${h.line}: ${h.code}`)).toEqual([]);
  });

  it('every allow-listed file still exists and still needs its exception', () => {
    for (const f of Object.keys(allowed)) expect(findSentenceParsing(f, readFileSync(path.join(root, f), 'utf8')).length, f).toBeGreaterThan(0);
  });
});
