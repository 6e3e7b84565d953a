/**
 * The agent's SSH trust files against a small HTTP server that plays the Timebox endpoints (so it
 * can also serve what a real server never would: a damaged KRL). The KRLs and keys are real, made
 * by ssh-keygen, and ssh-keygen is what judges the downloads.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SshTrustSettingsSchema, SshTrustSync } from './ssh-trust.js';

let dir: string;
let server: Server;
let base: URL;
/** What the fake server answers per path; requests are recorded with their If-None-Match. */
const answers = new Map<string, { status: number; body?: Buffer }>();
const requests: Array<{ path: string; ifNoneMatch: string | undefined }> = [];
const T = '/api/v1/tenants/acme/ca/ssh';

const tag = (b: Buffer) => `"${createHash('sha256').update(b).digest('hex').slice(0, 16)}"`;
const keygen = (args: string[]) => execFileSync('ssh-keygen', args, { stdio: ['ignore', 'pipe', 'pipe'] });

let caPub: Buffer;
let krlEmpty: Buffer;
let krlRevoked: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tb-ssh-trust-'));
  keygen(['-q', '-t', 'ed25519', '-N', '', '-C', 'timebox-ca:test', '-f', path.join(dir, 'ca')]);
  caPub = await readFile(path.join(dir, 'ca.pub'));
  await writeFile(path.join(dir, 'none.spec'), '');
  await writeFile(path.join(dir, 'serial.spec'), 'serial: 42\n');
  keygen(['-q', '-k', '-f', path.join(dir, 'krl-empty'), path.join(dir, 'none.spec')]);
  keygen(['-q', '-k', '-f', path.join(dir, 'krl-42'), '-s', path.join(dir, 'ca.pub'), path.join(dir, 'serial.spec')]);
  krlEmpty = await readFile(path.join(dir, 'krl-empty'));
  krlRevoked = await readFile(path.join(dir, 'krl-42'));

  server = createServer((req, res) => {
    const inm = req.headers['if-none-match'];
    requests.push({ path: req.url ?? '', ifNoneMatch: typeof inm === 'string' ? inm : undefined });
    const a = answers.get(req.url ?? '') ?? { status: 404 };
    if (a.status === 200 && a.body) {
      const etag = tag(a.body);
      if (inm === etag) return res.writeHead(304, { etag }).end();
      return res.writeHead(200, { etag }).end(a.body);
    }
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'x', message: `answer ${a.status}` } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await rm(dir, { recursive: true, force: true });
});

let files: string;
beforeEach(async () => {
  files = await mkdtemp(path.join(dir, 'etc-'));
  answers.clear();
  requests.length = 0;
  answers.set(`${T}/krl`, { status: 200, body: krlEmpty });
  answers.set(T, { status: 200, body: caPub });
});

const sync = (url = base) =>
  new SshTrustSync({
    settings: SshTrustSettingsSchema.parse({ revokedKeysFile: path.join(files, 'revoked_keys'), trustedCaKeysFile: path.join(files, 'user_ca.pub') }),
    server: url,
    tenant: 'acme',
    log: pino({ level: 'silent' }),
  });
const krlFile = () => path.join(files, 'revoked_keys');
const caFile = () => path.join(files, 'user_ca.pub');

describe('SSH trust files', () => {
  it('writes both files 0644; an unchanged list is a 304 that leaves the files alone; a new one replaces them', async () => {
    const s = sync();
    expect(await s.refresh('start')).toEqual({ KRL: 'updated', TrustedUserCAKeys: 'updated' });
    expect(await readFile(krlFile())).toEqual(krlEmpty);
    expect(await readFile(caFile())).toEqual(caPub);
    expect((await stat(krlFile())).mode & 0o777).toBe(0o644);
    expect((await stat(caFile())).mode & 0o777).toBe(0o644);
    const before = await stat(krlFile());

    expect(await s.refresh('timer')).toEqual({ KRL: 'unchanged', TrustedUserCAKeys: 'unchanged' });
    expect(requests.slice(-2).map((r) => r.ifNoneMatch)).toEqual([tag(krlEmpty), tag(caPub)]);
    expect((await stat(krlFile())).ino).toBe(before.ino);

    answers.set(`${T}/krl`, { status: 200, body: krlRevoked });
    expect((await s.refresh('server signal')).KRL).toBe('updated');
    expect(await readFile(krlFile())).toEqual(krlRevoked);
    expect(keygen(['-Q', '-l', '-f', krlFile()]).toString()).toContain('serial: 42');
    expect(await readdir(files)).toEqual(['revoked_keys', 'user_ca.pub']);
  });

  it('a damaged KRL download never replaces the good file', async () => {
    const s = sync();
    answers.set(`${T}/krl`, { status: 200, body: krlRevoked });
    await s.refresh('start');
    const good = await stat(krlFile());

    for (const damaged of [krlRevoked.subarray(0, krlRevoked.length - 7), Buffer.from('<html>502 Bad Gateway</html>'), Buffer.alloc(0)]) {
      answers.set(`${T}/krl`, { status: 200, body: damaged });
      await expect(s.refresh('timer')).rejects.toThrow(/KRL .*the downloaded KRL is damaged, the previous file is kept/);
      expect(await readFile(krlFile())).toEqual(krlRevoked);
      expect((await stat(krlFile())).ino).toBe(good.ino);
      // No temp file left behind for sshd or an admin to trip over.
      expect(await readdir(files)).toEqual(['revoked_keys', 'user_ca.pub']);
    }
  });

  it('CA keys with a line that is not a key are refused; the previous file stays', async () => {
    const s = sync();
    await s.refresh('start');
    answers.set(T, { status: 200, body: Buffer.concat([caPub, Buffer.from('ssh-ed25519 AAAAnotakey timebox-ca:x\n')]) });
    await expect(s.refresh('timer')).rejects.toThrow(/TrustedUserCAKeys .*the downloaded CA keys are unusable/);
    expect(await readFile(caFile())).toEqual(caPub);
  });

  it('server down, 5xx or nothing published: the last good files stay', async () => {
    const s = sync();
    await s.refresh('start');
    answers.set(`${T}/krl`, { status: 503 });
    await expect(s.refresh('timer')).rejects.toThrow(/503 answer 503/);
    answers.clear(); // 404 for both: the tenant has no SSH CA (any more)
    expect(await s.refresh('timer')).toEqual({ KRL: 'not published', TrustedUserCAKeys: 'not published' });
    await expect(sync(new URL('http://127.0.0.1:1')).refresh('timer')).rejects.toThrow(/ECONNREFUSED/);
    expect(await readFile(krlFile())).toEqual(krlEmpty);
    expect(await readFile(caFile())).toEqual(caPub);
  });

  it('a trust file deleted on the host is fetched in full again, not answered with a 304', async () => {
    const s = sync();
    await s.refresh('start');
    await rm(krlFile());
    expect((await s.refresh('timer')).KRL).toBe('updated');
    expect(requests.at(-2)).toEqual({ path: `${T}/krl`, ifNoneMatch: undefined });
    expect(await readFile(krlFile())).toEqual(krlEmpty);
  });

  it('refuses settings that are not absolute file paths', () => {
    expect(SshTrustSettingsSchema.safeParse({ revokedKeysFile: 'revoked_keys' }).success).toBe(false);
    expect(SshTrustSettingsSchema.safeParse({ revokedKeysFile: '/etc/ssh/../ssh/krl' }).success).toBe(false);
    expect(SshTrustSettingsSchema.safeParse({ revokedKeysFile: '/etc/ssh/k', trustedCaKeysFile: '/etc/ssh/k' }).success).toBe(false);
    expect(SshTrustSettingsSchema.parse({ revokedKeysFile: '/etc/ssh/k' }).refreshSeconds).toBe(60);
  });
});
