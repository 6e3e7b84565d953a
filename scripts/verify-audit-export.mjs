#!/usr/bin/env node
/**
 * Checks a Timebox audit export offline, with nothing but Node.js: no database, no server, no
 * Timebox code. For an auditor who holds the export, the server's public key and a copy of the
 * witness file (the checkpoints the server wrote outside its database).
 *
 *   node scripts/verify-audit-export.mjs --export audit.jsonl --public-key audit.pub \
 *        [--witness audit-witness.jsonl]... [--tenant <uuid>] [--log-id <uuid>] [--partial] [--json]
 *
 * Each chain (one per tenant) must run from position 1 without gaps (unless --partial: an export
 * filtered by time), every hash must match its event and link to the previous one, and every
 * checkpoint signed by a trusted key must match the event at its position: a history rewritten
 * with recomputed hashes, or events deleted from the end, fail here.
 * --tenant: the export must be that tenant's chain alone (`timebox whoami --json` gives the id
 * of each of your tenants); without it, any tenant's intact export passes.
 * Exit code 0: intact; 1: problems found; 2: the files could not be read.
 *
 * The recipes (the same as src/audit/audit-log.ts and src/audit/checkpoints.ts):
 *   hash      = sha256hex(prev_hash + "\n" + canonicalJson({position, id, at, tenant_id, actor_type,
 *               actor_id, action, subject_type, subject_id, reason, before, after}))
 *   signature = Ed25519 over "timebox-audit-checkpoint-v1\n" + canonicalJson({log_id, tenant_id,
 *               position, hash, at, key_id}); key_id = first 16 hex of sha256(SPKI DER of the key)
 *   canonicalJson: JSON with object keys sorted at every level, no whitespace.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const GENESIS = '0'.repeat(64);

function usage(message) {
  process.stderr.write(`${message}\nusage: verify-audit-export.mjs --export FILE --public-key PEM [--witness FILE]... [--tenant UUID] [--log-id UUID] [--partial] [--json]\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      export: { type: 'string' },
      'public-key': { type: 'string', multiple: true },
      witness: { type: 'string', multiple: true },
      tenant: { type: 'string' },
      'log-id': { type: 'string' },
      partial: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  }).values;
} catch (err) {
  usage(err.message);
}
if (!args.export) usage('--export is required');
if (!args['public-key']?.length) usage('--public-key is required');

function read(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    usage(`cannot read ${path}: ${err.message}`);
  }
}

const canonicalJson = (v) => {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  return `{${Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
};
const sha256 = (s) => createHash('sha256').update(s, 'utf8').digest('hex');
const hashOf = (e) =>
  sha256(
    `${e.prev_hash}\n${canonicalJson({
      position: e.position, id: e.id, at: e.at, tenant_id: e.tenant_id, actor_type: e.actor_type, actor_id: e.actor_id,
      action: e.action, subject_type: e.subject_type, subject_id: e.subject_id, reason: e.reason, before: e.before, after: e.after,
    })}`,
  );
const messageOf = (c) =>
  Buffer.from(`timebox-audit-checkpoint-v1\n${canonicalJson({ log_id: c.log_id, tenant_id: c.tenant_id, position: c.position, hash: c.hash, at: c.at, key_id: c.key_id })}`);

const trusted = new Map();
for (const path of args['public-key']) {
  let key;
  try {
    key = createPublicKey(read(path));
  } catch {
    usage(`${path} is not a PEM public key`);
  }
  trusted.set(createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16), key);
}

const problems = [];
const report = (tenant_id, position, problem) => problems.push({ tenant_id, position, problem });
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const WHOLE = /^[1-9][0-9]{0,18}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What is wrong with the shape of a sealed event or a checkpoint, in words; null when nothing. */
function eventShapeProblem(e) {
  if (e.tenant_id !== null && !(typeof e.tenant_id === 'string' && UUID.test(e.tenant_id))) return 'tenant_id is not a tenant id';
  if (e.position == null && e.hash == null) return null; // not sealed yet
  if (!(typeof e.position === 'string' && WHOLE.test(e.position))) return 'position is not a whole number';
  if (!(typeof e.hash === 'string' && HEX64.test(e.hash))) return 'hash is not a SHA-256 in hex';
  if (!(typeof e.prev_hash === 'string' && HEX64.test(e.prev_hash))) return 'prev_hash is not a SHA-256 in hex';
  return null;
}
function checkpointShapeProblem(c) {
  if (!isObject(c)) return 'the checkpoint is not an object';
  for (const k of ['log_id', 'hash', 'at', 'key_id', 'signature']) if (typeof c[k] !== 'string') return `the checkpoint has no ${k}`;
  if (c.tenant_id !== null && !(typeof c.tenant_id === 'string' && UUID.test(c.tenant_id))) return 'the checkpoint has no tenant_id';
  if (!(typeof c.position === 'string' && WHOLE.test(c.position))) return "the checkpoint's position is not a whole number";
  return null;
}

const events = [];
const checkpoints = [];
// A byte-order mark some editors add is not part of the first line.
const text = read(args.export).replace(/^\uFEFF/, '');
let lineNo = 0;
for (const line of text.split('\n')) {
  lineNo++;
  if (!line.trim()) continue;
  let obj;
  try {
    obj = JSON.parse(line);
  } catch {
    report(null, null, `export line ${lineNo} is not JSON: the file was cut or altered`);
    continue;
  }
  if (!isObject(obj)) {
    report(null, null, `export line ${lineNo} is neither an audit event nor a checkpoint`);
    continue;
  }
  if ('checkpoint' in obj) {
    const why = checkpointShapeProblem(obj.checkpoint);
    if (why) report(null, null, `export line ${lineNo}: ${why}`);
    else checkpoints.push({ ...obj.checkpoint, source: 'the export' });
    continue;
  }
  const why = eventShapeProblem(obj);
  if (why) report(null, null, `export line ${lineNo}: ${why}`);
  else events.push(obj);
}
for (const path of args.witness ?? []) {
  for (const line of read(path).replace(/^\uFEFF/, '').split('\n')) {
    if (!line.trim()) continue;
    let obj;
    try {
      obj = JSON.parse(line);
    } catch {
      continue; // a torn last line from a crash mid-write: not a checkpoint
    }
    if (!checkpointShapeProblem(obj)) checkpoints.push({ ...obj, source: path });
  }
}
if (events.length === 0 && problems.length === 0) report(null, null, 'the export holds no audit events: there is nothing to verify');
if (args.tenant !== undefined) {
  const wanted = args.tenant.toLowerCase();
  if (!UUID.test(wanted)) usage(`--tenant must be a tenant id (a UUID), not ${JSON.stringify(args.tenant)}`);
  const others = new Set(events.filter((e) => e.tenant_id !== wanted).map((e) => e.tenant_id ?? 'the platform'));
  for (const other of others) report(other === 'the platform' ? null : other, null, `events of ${other === 'the platform' ? 'the platform chain' : `tenant ${other}`} in an export expected to hold tenant ${wanted}'s alone`);
}

const chainOf = (tenantId) => tenantId ?? '';
const sealed = events.filter((e) => e.position != null && e.hash != null);
const unsealed = events.length - sealed.length;
const chains = new Map();
for (const e of sealed) {
  const c = chainOf(e.tenant_id);
  if (!chains.has(c)) chains.set(c, []);
  chains.get(c).push(e);
}

/** 'valid', 'invalid' or 'unknown_key': only a valid signature makes anything of a checkpoint count. */
function signatureOf(c) {
  const key = trusted.get(c.key_id);
  if (!key) return 'unknown_key';
  try {
    return verify(null, messageOf(c), key, Buffer.from(c.signature, 'base64')) ? 'valid' : 'invalid';
  } catch {
    return 'invalid';
  }
}
const relevant = checkpoints.filter((c) => chains.has(chainOf(c.tenant_id)) || c.source === 'the export');
const verdicts = new Map(relevant.map((c) => [c, signatureOf(c)]));

// Which audit log the export is checked against: named by the auditor, or by the checkpoints a
// trusted key signed for these chains (never by an unsigned line: anyone can write one). Two
// logs signed by the same key for the same chain mean the log was replaced or its id changed.
const signedLogIds = new Set(relevant.filter((c) => verdicts.get(c) === 'valid').map((c) => c.log_id));
let logId = args['log-id'] ?? null;
if (!logId && signedLogIds.size === 1) logId = [...signedLogIds][0];
if (!args['log-id'] && signedLogIds.size > 1) {
  report(null, null, `checkpoints signed by a trusted key name ${signedLogIds.size} audit logs for these chains (${[...signedLogIds].join(', ')}): the log was replaced or its id changed; name the one to check with --log-id`);
}

// chain -> position -> checkpoint, for chains in the export
const expected = new Map();
const counts = { trusted: 0, otherLogs: 0, unknownKey: 0 };
for (const c of relevant) {
  const chain = chainOf(c.tenant_id);
  const verdict = verdicts.get(c);
  if (verdict === 'unknown_key') {
    counts.unknownKey++;
    continue;
  }
  if (verdict === 'invalid') {
    report(c.tenant_id, c.position, `checkpoint in ${c.source} has an invalid signature: forged or altered`);
    continue;
  }
  if (c.log_id !== logId) {
    counts.otherLogs++;
    continue;
  }
  if (!expected.has(chain)) expected.set(chain, new Map());
  const seen = expected.get(chain).get(c.position);
  if (seen && seen.hash !== c.hash) report(c.tenant_id, c.position, 'two signed checkpoints name different hashes for this position');
  else if (!seen) {
    expected.get(chain).set(c.position, c);
    counts.trusted++;
  }
}

const summaries = [];
for (const [chain, list] of chains) {
  list.sort((a, b) => (BigInt(a.position) < BigInt(b.position) ? -1 : BigInt(a.position) > BigInt(b.position) ? 1 : 0));
  const tenant = list[0].tenant_id;
  let prev = null;
  let lastCheckpoint = null;
  for (const e of list) {
    const pos = BigInt(e.position);
    if (prev) {
      if (pos !== prev.pos + 1n) report(tenant, e.position, pos > prev.pos ? `position ${prev.pos + 1n}${pos - 1n > prev.pos + 1n ? `..${pos - 1n}` : ''} missing: event(s) deleted before this one` : 'position repeated');
      if (e.prev_hash !== prev.hash) report(tenant, e.position, `prev_hash does not match the hash of position ${prev.pos}: an event before it was deleted, inserted or altered`);
    } else if (pos !== 1n && !args.partial) {
      report(tenant, e.position, `the chain starts at position ${pos}: position(s) 1..${pos - 1n} missing`);
    } else if (pos === 1n && e.prev_hash !== GENESIS) {
      report(tenant, e.position, 'prev_hash of position 1 is not the genesis hash');
    }
    if (hashOf(e) !== e.hash) report(tenant, e.position, 'content does not match its hash: the event was altered after it was sealed');
    const cp = expected.get(chain)?.get(String(e.position));
    if (cp) {
      expected.get(chain).delete(String(e.position));
      if (cp.hash !== e.hash) report(tenant, e.position, `hash differs from the checkpoint signed at ${cp.at}: history was rewritten`);
      else lastCheckpoint = { position: cp.position, at: cp.at };
    }
    prev = { pos, hash: e.hash };
  }
  summaries.push({ tenant_id: tenant, events: list.length, head: { position: String(prev.pos), hash: prev.hash }, checkpoint: lastCheckpoint });
}
for (const [chain, byPos] of expected) {
  const head = summaries.find((s) => chainOf(s.tenant_id) === chain)?.head;
  for (const cp of byPos.values()) {
    if (args.partial && head && BigInt(cp.position) < BigInt(head.position)) continue;
    report(cp.tenant_id, cp.position, head && BigInt(head.position) >= BigInt(cp.position)
      ? `position ${cp.position} signed at ${cp.at} is not in the export`
      : `the chain ends at position ${head?.position ?? 0} but position ${cp.position} was signed at ${cp.at}: events were deleted`);
  }
}

// A chain no trusted checkpoint covers proves nothing: its events and hashes could all have been
// written by whoever produced the file.
for (const s of summaries) {
  if (!s.checkpoint) report(s.tenant_id, null, 'no checkpoint signed by a trusted key covers this chain: nothing shows these are the events the server sealed (export again after the next checkpoint, or pass the witness)');
}

const result = { ok: problems.length === 0, checked: sealed.length, unsealed, problems, chains: summaries, checkpoints: counts, logId };
if (args.json) {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} else {
  const name = (t) => (t ? `tenant ${t}` : 'platform chain');
  for (const p of problems) process.stdout.write(`${name(p.tenant_id)} position ${p.position ?? '-'}: ${p.problem}\n`);
  for (const s of summaries) {
    const covered = s.checkpoint ? `signed up to position ${s.checkpoint.position} (${s.checkpoint.at})` : 'NOT covered by any trusted checkpoint';
    process.stdout.write(`${name(s.tenant_id)}: ${s.events} events, head position ${s.head.position}, ${covered}\n`);
  }
  if (unsealed) process.stdout.write(`${unsealed} event(s) not sealed yet at export time: not checked\n`);
  process.stdout.write(result.ok ? `Audit export intact: ${sealed.length} events checked.\n` : `${problems.length} problem(s) found in ${sealed.length} events checked.\n`);
}
process.exit(result.ok ? 0 : 1);
