/**
 * Enrolment and the agent's identity on disk. `timebox agent enroll` makes an Ed25519 key pair on
 * the host, writes the private key (0600) into the state directory, and exchanges a one-time token
 * for an agent id by sending only the public key. `identity.json` (0600) then records the server
 * URL and the agent id; `timebox agent run` reads both and signs every request with the key.
 */
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import { readFile, rm, stat } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { AgentHttpError, errorMessage, httpRequest, parseServerUrl } from './http-client.js';
import { EnrollResponseSchema, HOSTNAME_RE } from '../agent-wire/protocol.js';
import { generateAgentKeyPair, loadAgentPrivateKey } from '../agent-wire/signing.js';
import { ensurePrivateDir, writeFileAtomic } from './state-files.js';
import { AGENT_VERSION } from './version.js';

export const IDENTITY_FILE = 'identity.json';
export const KEY_FILE = 'agent-key.pem';

const IdentitySchema = z.strictObject({
  schemaVersion: z.literal(1),
  server: z.string(),
  agentId: z.guid(),
  name: z.string(),
  tenant: z.string(),
  enrolledAt: z.string(),
  /** PEM of a private CA for the server's certificate (else the system's CAs). */
  caPem: z.string().optional(),
});
export type AgentIdentity = z.infer<typeof IdentitySchema>;

async function readPrivateFile(file: string): Promise<string> {
  const st = await stat(file);
  if (st.mode & 0o077) throw new Error(`${file} is accessible to group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  return readFile(file, 'utf8');
}

/** The identity and key in `stateDir`, or undefined when the agent was never enrolled there. */
export async function loadIdentity(stateDir: string): Promise<{ identity: AgentIdentity; key: KeyObject; server: URL } | undefined> {
  const file = path.join(stateDir, IDENTITY_FILE);
  let text: string;
  try {
    text = await readPrivateFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed;
  try {
    parsed = IdentitySchema.safeParse(JSON.parse(text));
  } catch {
    throw new Error(`${file} is not JSON`);
  }
  if (!parsed.success) throw new Error(`${file} is not a valid agent identity: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const key = loadAgentPrivateKey(await readPrivateFile(path.join(stateDir, KEY_FILE)));
  return { identity: parsed.data, key, server: parseServerUrl(parsed.data.server) };
}

export interface EnrollOptions {
  server: string;
  token: string;
  stateDir: string;
  hostname?: string;
  caPem?: string;
  timeoutMs?: number;
}

/**
 * Enrols this host. Refuses a state directory that already holds an identity (revoke the old
 * agent and use a fresh directory). On any failure no identity is written and the key is removed.
 */
export async function enrollAgent(opts: EnrollOptions): Promise<AgentIdentity> {
  const server = parseServerUrl(opts.server);
  const stateDir = path.resolve(opts.stateDir);
  await ensurePrivateDir(stateDir);
  if (await loadIdentity(stateDir).catch(() => 'broken')) {
    throw new Error(`${stateDir} already holds an enrolled agent (${IDENTITY_FILE}); use a fresh state directory to enrol again`);
  }
  const hostname = opts.hostname ?? osHostname();
  if (!HOSTNAME_RE.test(hostname)) throw new Error(`host name ${JSON.stringify(hostname.slice(0, 80))} is not a valid host name; pass --hostname`);
  const token = opts.token.trim();
  if (!token) throw new Error('the enrolment token is empty');

  const { privateKeyPem, publicKeyPem } = generateAgentKeyPair();
  const keyFile = path.join(stateDir, KEY_FILE);
  // The key is on disk (0600) before the server knows its public half: a crash cannot orphan it.
  await writeFileAtomic(keyFile, privateKeyPem);
  try {
    const url = new URL(`${server.pathname.replace(/\/+$/, '')}/api/v1/agents/enroll`, server.origin);
    const body = JSON.stringify({ token, publicKey: publicKeyPem, hostname, version: AGENT_VERSION });
    const r = await httpRequest(url, 'POST', { 'content-type': 'application/json' }, body, { timeoutMs: opts.timeoutMs ?? 30_000, caPem: opts.caPem });
    if (r.status !== 201) throw new AgentHttpError(r.status, `${errorMessage(r)} (HTTP ${r.status} from ${server.origin})`);
    const answer = EnrollResponseSchema.parse(JSON.parse(r.text));
    const identity: AgentIdentity = {
      schemaVersion: 1,
      server: server.href.replace(/\/+$/, ''),
      agentId: answer.agentId,
      name: answer.name,
      tenant: answer.tenant,
      enrolledAt: new Date().toISOString(),
      ...(opts.caPem ? { caPem: opts.caPem } : {}),
    };
    await writeFileAtomic(path.join(stateDir, IDENTITY_FILE), `${JSON.stringify(identity, null, 2)}\n`);
    return identity;
  } catch (err) {
    await rm(keyFile, { force: true });
    throw err;
  }
}
