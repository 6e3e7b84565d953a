/**
 * Starts a throwaway Samba Active Directory domain controller for tests: the real AD protocol
 * (LDAPS, unicodePwd, userAccountControl, accountExpires, bind sub-codes), not a mock.
 *
 * Provisioning costs seconds, so one template domain is provisioned per machine into a cache under
 * os.tmpdir() (keyed by the Samba version and HARNESS_VERSION) and copied with `cp -a` per
 * instance. LDAP ports are fixed (389/636), so each instance gets its own loopback address
 * 127.0.0.N, added to `lo` when missing (needs root / CAP_NET_ADMIN, as in CI).
 * Every command is an execFile argv: paths and passwords never pass through a shell.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'ldapts';

const run = promisify(execFile);

export interface SambaDc {
  /** The loopback address this DC alone listens on. */
  host: string;
  realm: string;
  baseDn: string;
  adminDn: string;
  adminPassword: string;
  /** PEM of the CA that signed the DC's LDAPS certificate (private/tls/ca.pem). */
  caPem: string;
  /** The name in the certificate (it has no IP SAN): what clients must check instead of `host`. */
  tlsServerName: string;
  ldapsUrl: string;
  /** `samba-tool` on this DC's database (dsacl, user, group...): argv only, returns stdout. */
  sambaTool(args: string[]): Promise<string>;
  /** Stops the DC (an outage as clients see it); the data stays. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its files and the loopback address the harness added. */
  destroy(): Promise<void>;
}

/** Bump when the template's provisioning changes, so stale caches are not reused. */
const HARNESS_VERSION = 'tb-samba-1';
const REALM = 'TIMEBOX.TEST';
const DOMAIN = 'TIMEBOX';
const BASE_DN = 'DC=timebox,DC=test';
const ADMIN_DN = `CN=Administrator,CN=Users,${BASE_DN}`;
const APT_HINT =
  'apt-get install -y --no-install-recommends samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind ' +
  'krb5-user ldb-tools ldap-utils smbclient python3-samba samba-common-bin';

/** samba, samba-tool and ip live in sbin, which is not on every PATH. */
function binary(name: string): string {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin', '/usr/bin']) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  throw new Error(`${name} not found: install Samba as an AD DC (Debian: ${APT_HINT})`);
}

function explain(err: unknown): string {
  const e = err as { stderr?: unknown; message?: unknown };
  if (typeof e?.stderr === 'string' && e.stderr.trim()) return e.stderr.trim().slice(-2000);
  return err instanceof Error ? err.message : String(err);
}

/** smb.conf of one instance: everything under its own directory, listening on its own address. */
function smbConf(dir: string, ip: string): string {
  const p = (...parts: string[]) => path.join(dir, ...parts);
  return [
    '[global]',
    `\tnetbios name = DC1`,
    `\tworkgroup = ${DOMAIN}`,
    `\trealm = ${REALM}`,
    '\tserver role = active directory domain controller',
    // What LDAPS and password resets need; no DNS, SMB, RPC or replication services.
    '\tserver services = ldap, kdc',
    `\tinterfaces = ${ip}`,
    '\tbind interfaces only = yes',
    // Without this a reset password keeps working for 60 minutes (NTLM/LDAP "old password" window).
    '\told password allowed period = 0',
    `\tprivate dir = ${p('private')}`,
    `\tlock directory = ${dir}`,
    `\tstate directory = ${p('state')}`,
    `\tcache directory = ${p('cache')}`,
    `\tbinddns dir = ${p('bind-dns')}`,
    `\tpid directory = ${p('run')}`,
    `\tncalrpc dir = ${p('ncalrpc')}`,
    `\twinbindd socket directory = ${p('winbindd')}`,
    `\tntp signd socket directory = ${p('ntp')}`,
    `\tlog file = ${p('log.samba')}`,
    '\tlog level = 1',
    '',
  ].join('\n');
}

function spawnSamba(dir: string): ChildProcess {
  const out = openSync(path.join(dir, 'samba.stdout'), 'a');
  try {
    return spawn(
      binary('samba'),
      ['-s', path.join(dir, 'etc', 'smb.conf'), '--foreground', '--no-process-group', '-M', 'single'],
      { stdio: ['ignore', out, out] },
    );
  } finally {
    closeSync(out);
  }
}

/** Resolves when the process has exited; SIGKILL after `graceMs`. */
async function terminate(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Polls an LDAPS bind as the admin, verified against the DC's CA and certificate name, until it
 * works, the process dies or a minute has passed. (The first start of the template also waits
 * here for Samba to generate that CA and certificate.)
 */
async function waitReady(child: ChildProcess, dir: string, url: string, adminPassword: string) {
  const deadline = Date.now() + 60_000;
  let last: unknown;
  while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    const [ca, servername] = [await caOf(dir), await certName(dir)];
    if (ca && servername) {
      const client = new Client({ url, connectTimeout: 2000, timeout: 5000, tlsOptions: { ca, servername } });
      try {
        await client.bind(ADMIN_DN, adminPassword);
        return;
      } catch (err) {
        last = err;
      } finally {
        await client.unbind().catch(() => {});
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const log = await readFile(path.join(dir, 'samba.stdout'), 'utf8').catch(() => '');
  throw new Error(`Samba DC did not become ready (last: ${explain(last)})\n${log.slice(-3000)}`);
}

const certName = async (dir: string) => {
  const pem = await readFile(path.join(dir, 'private', 'tls', 'cert.pem'), 'utf8').catch(() => null);
  if (!pem) return null;
  return /CN=([^\n,]+)/.exec(new X509Certificate(pem).subject)?.[1]?.trim() ?? null;
};
const caOf = (dir: string) => readFile(path.join(dir, 'private', 'tls', 'ca.pem'), 'utf8').catch(() => null);

// ---- loopback addresses -------------------------------------------------------------------

/** One lock file per address in os.tmpdir(): parallel test files (and other runs) never share one. */
const lockPath = (n: number) => path.join(os.tmpdir(), `timebox-samba-127.0.0.${n}.lock`);

function tryLock(n: number): boolean {
  const file = lockPath(n);
  try {
    const fd = openSync(file, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch {
    // A lock whose process is gone is stale (a killed run): take it over.
    try {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          rmSync(file, { force: true });
          return tryLock(n);
        }
      }
    } catch {
      // unreadable lock: leave it
    }
    return false;
  }
}

async function portsFree(ip: string): Promise<boolean> {
  for (const port of [389, 636]) {
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'EADDRNOTAVAIL'));
      srv.listen(port, ip, () => srv.close(() => resolve(true)));
    });
    if (!free) return false;
  }
  return true;
}

async function loopbackAddresses(): Promise<Set<string>> {
  const { stdout } = await run(binary('ip'), ['-4', '-o', 'addr', 'show', 'dev', 'lo']);
  return new Set([...stdout.matchAll(/inet (127\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!));
}

/** Picks 127.0.0.N (10..250) that no other instance holds and nothing listens on. */
async function claimAddress(): Promise<{ ip: string; n: number; added: boolean }> {
  const present = await loopbackAddresses();
  for (let n = 10; n <= 250; n++) {
    if (!tryLock(n)) continue;
    const ip = `127.0.0.${n}`;
    if (!(await portsFree(ip))) {
      rmSync(lockPath(n), { force: true });
      continue;
    }
    if (present.has(ip)) return { ip, n, added: false };
    try {
      await run(binary('ip'), ['addr', 'add', `${ip}/32`, 'dev', 'lo']);
    } catch (err) {
      rmSync(lockPath(n), { force: true });
      throw new Error(`could not add ${ip} to lo (the Samba harness needs root or CAP_NET_ADMIN): ${explain(err)}`);
    }
    return { ip, n, added: true };
  }
  throw new Error('no free loopback address 127.0.0.10-250 for a Samba test DC');
}

function releaseAddressSync(claim: { ip: string; n: number; added: boolean }) {
  if (claim.added) {
    try {
      execFileSync(binary('ip'), ['addr', 'del', `${claim.ip}/32`, 'dev', 'lo'], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  rmSync(lockPath(claim.n), { force: true });
}

// ---- exit cleanup -------------------------------------------------------------------------

interface Live {
  child: () => ChildProcess | null;
  dir: string;
  claim: { ip: string; n: number; added: boolean };
}
const live = new Set<Live>();
let exitHookInstalled = false;
/** A crashed or interrupted run must not leave a DC holding an address, a port and a temp dir. */
function cleanUpOnExit(entry: Live) {
  live.add(entry);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const l of live) {
      const child = l.child();
      if (child?.pid && child.exitCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      rmSync(l.dir, { recursive: true, force: true });
      releaseAddressSync(l.claim);
    }
  });
}

// ---- template -----------------------------------------------------------------------------

async function sambaVersion(): Promise<string> {
  const { stdout } = await run(binary('samba'), ['--version']);
  return stdout.trim().replace(/[^A-Za-z0-9.-]+/g, '_');
}

/**
 * The cached template: provisioned once, then started once so Samba generates its TLS CA and
 * certificate (which every copy then shares). Built in a staging directory and renamed into place,
 * so a concurrent builder or an interrupted build never leaves a half-made template behind.
 */
async function template(ip: string): Promise<{ dir: string; adminPassword: string }> {
  const dir = path.join(os.tmpdir(), `timebox-samba-template-${HARNESS_VERSION}-${await sambaVersion()}`);
  const pwFile = path.join(dir, 'admin-password');
  const cached = await readFile(pwFile, 'utf8').catch(() => null);
  if (cached) return { dir, adminPassword: cached };

  const staging = await mkdtemp(`${dir}.staging-`);
  // Letters, digits and a symbol: passes the domain's default complexity rules.
  const adminPassword = `Adm-${randomBytes(12).toString('base64url')}-9a`;
  try {
    const empty = path.join(staging, 'empty.conf');
    await writeFile(empty, '');
    const conf = smbConf(staging, ip);
    const option = (line: string) => `--option=${line.trim().replace(/\s*=\s*/, '=')}`;
    const options = conf.split('\n').filter((l) => l.startsWith('\t') && !/server role|realm|workgroup/.test(l)).map(option);
    await run(
      binary('samba-tool'),
      [
        'domain', 'provision', '-s', empty, `--targetdir=${staging}`,
        `--realm=${REALM}`, `--domain=${DOMAIN}`, '--server-role=dc', '--dns-backend=NONE',
        '--host-name=dc1', `--adminpass=${adminPassword}`, `--host-ip=${ip}`, ...options,
      ],
      { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
    );
    await rm(empty, { force: true });
    // provision drops options it does not know as provision settings: write the whole file.
    await writeFile(path.join(staging, 'etc', 'smb.conf'), conf);
    await mkdir(path.join(staging, 'run'), { recursive: true });
    const child = spawnSamba(staging);
    try {
      await waitReady(child, staging, `ldaps://${ip}`, adminPassword);
    } finally {
      await terminate(child);
    }
    await writeFile(path.join(staging, 'admin-password'), adminPassword, { mode: 0o600 });
    await rename(staging, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another process finished first: use theirs.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      await rm(staging, { recursive: true, force: true });
    });
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw new Error(`Samba domain provisioning failed (Debian: ${APT_HINT}): ${explain(err)}`, { cause: err });
  }
  return { dir, adminPassword: await readFile(pwFile, 'utf8') };
}

// ---- instance -----------------------------------------------------------------------------

export async function startSambaDc(): Promise<SambaDc> {
  binary('samba');
  binary('samba-tool');
  const claim = await claimAddress();
  let dir = '';
  let child: ChildProcess | null = null;
  try {
    const tpl = await template(claim.ip);
    dir = await mkdtemp(path.join(os.tmpdir(), 'timebox-samba-dc-'));
    await run('cp', ['-a', `${tpl.dir}/.`, dir]);
    await writeFile(path.join(dir, 'etc', 'smb.conf'), smbConf(dir, claim.ip));
    await rm(path.join(dir, 'admin-password'), { force: true });
    const caPem = (await caOf(dir))!;
    const tlsServerName = (await certName(dir))!;
    const ldapsUrl = `ldaps://${claim.ip}`;
    const adminPassword = tpl.adminPassword;
    cleanUpOnExit({ child: () => child, dir, claim });

    const start = async () => {
      if (child && child.exitCode === null && child.signalCode === null) return;
      await rm(path.join(dir, 'run'), { recursive: true, force: true }); // stale pid files block a restart
      await mkdir(path.join(dir, 'run'), { recursive: true });
      child = spawnSamba(dir);
      child.on('error', () => {}); // surfaced by waitReady as "did not become ready"
      await waitReady(child, dir, ldapsUrl, adminPassword);
    };
    const stop = async () => {
      if (child) await terminate(child);
    };
    await start();
    const conf = path.join(dir, 'etc', 'smb.conf');
    const samDb = `tdb://${path.join(dir, 'private', 'sam.ldb')}`;

    return {
      host: claim.ip,
      realm: REALM,
      baseDn: BASE_DN,
      adminDn: ADMIN_DN,
      adminPassword,
      caPem,
      tlsServerName,
      ldapsUrl,
      async sambaTool(args) {
        const { stdout } = await run(binary('samba-tool'), [...args, '-s', conf, '-H', samDb], { timeout: 60_000 }).catch((err: unknown) => {
          throw new Error(`samba-tool ${args.slice(0, 2).join(' ')} failed: ${explain(err)}`, { cause: err });
        });
        return stdout;
      },
      stop,
      start,
      async destroy() {
        try {
          await stop();
        } finally {
          for (const l of live) if (l.dir === dir) live.delete(l);
          await rm(dir, { recursive: true, force: true });
          releaseAddressSync(claim);
        }
      },
    };
  } catch (err) {
    if (child) await terminate(child).catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
    releaseAddressSync(claim);
    throw err;
  }
}

// ---- a domain set up the way docs/targets/active-directory.md tells an admin to -----------

/** An admin LDAPS connection to the DC, bound; call unbind() when done. */
export async function adminClient(dc: SambaDc): Promise<Client> {
  const client = new Client({ url: dc.ldapsUrl, connectTimeout: 5000, timeout: 15_000, tlsOptions: { ca: dc.caPem, servername: dc.tlsServerName } });
  await client.bind(dc.adminDn, dc.adminPassword);
  return client;
}

/**
 * A fresh simple bind as `who` (a DN or UPN) with `password`, judged by the DC: 'ok', or AD's
 * "data XXX" sub-code of the refusal (52e wrong password, 533 disabled, 701 expired...).
 */
export async function bindAs(dc: SambaDc, who: string, password: string): Promise<string> {
  const client = new Client({ url: dc.ldapsUrl, connectTimeout: 5000, timeout: 15_000, tlsOptions: { ca: dc.caPem, servername: dc.tlsServerName } });
  try {
    await client.bind(who, password);
    // Samba's whoami errors even on success: a base search proves the session works.
    await client.search('', { scope: 'base', attributes: ['defaultNamingContext'] });
    return 'ok';
  } catch (err) {
    const sub = /\bdata ([0-9a-f]{3,4})\b/i.exec((err as Error).message)?.[1];
    if ((err as { code?: unknown }).code === 49 && sub) return sub.toLowerCase();
    throw err;
  } finally {
    await client.unbind().catch(() => {});
  }
}

/** objectSid (binary) → S-1-5-21-… */
function sidString(sid: Buffer): string {
  const authority = sid.readUIntBE(2, 6);
  const subs = Array.from({ length: sid[1]! }, (_, i) => sid.readUInt32LE(8 + 4 * i));
  return `S-${sid[0]}-${authority}${subs.map((s) => `-${s}`).join('')}`;
}

export interface JitDomain {
  jitOu: string;
  groupsOu: string;
  /** Two security groups the service account may manage. */
  groups: [string, string];
  /** A group the service account has NO right on. */
  unmanagedGroup: string;
  serviceDn: string;
  servicePassword: string;
}

/** Schema GUIDs used by delegation (the Delegation wizard writes the same ACEs). */
export const AD_GUID = {
  userClass: 'bf967aba-0de6-11d0-a285-00aa003049e2',
  resetPassword: '00299570-246d-11d0-a768-00aa006e0529',
  userAccountControl: 'bf967a68-0de6-11d0-a285-00aa003049e2',
  accountExpires: 'bf967915-0de6-11d0-a285-00aa003049e2',
  description: 'bf967950-0de6-11d0-a285-00aa003049e2',
  displayName: 'bf967953-0de6-11d0-a285-00aa003049e2',
  member: 'bf9679c0-0de6-11d0-a285-00aa003049e2',
};

/**
 * OU=Timebox JIT and OU=Privileged Groups, two manageable groups and one unmanaged group, and a
 * service account holding ONLY the rights the documentation lists (no admin group).
 */
export async function prepareJitDomain(dc: SambaDc): Promise<JitDomain> {
  const jitOu = `OU=Timebox JIT,${dc.baseDn}`;
  const groupsOu = `OU=Privileged Groups,${dc.baseDn}`;
  const groups: [string, string] = [`CN=Tier1 Server Admins,${groupsOu}`, `CN=Backup Admins,${groupsOu}`];
  const unmanagedGroup = `CN=Finance Readers,${groupsOu}`;
  const serviceDn = `CN=svc-timebox,CN=Users,${dc.baseDn}`;
  const servicePassword = `Svc-${randomBytes(12).toString('base64url')}-7q`;
  const admin = await adminClient(dc);
  try {
    for (const ou of [jitOu, groupsOu]) await admin.add(ou, { objectClass: ['top', 'organizationalUnit'] });
    for (const g of [...groups, unmanagedGroup]) {
      // -2147483646: global security group
      await admin.add(g, { objectClass: ['top', 'group'], groupType: '-2147483646', sAMAccountName: g.slice(3, g.indexOf(',')).replace(/ /g, '_') });
    }
    await admin.add(serviceDn, {
      objectClass: ['top', 'person', 'organizationalPerson', 'user'],
      sAMAccountName: 'svc-timebox',
      unicodePwd: Buffer.from(`"${servicePassword}"`, 'utf16le') as unknown as string,
      userAccountControl: '512',
    });
    const { searchEntries } = await admin.search(serviceDn, { scope: 'base', attributes: ['objectSid'], explicitBufferAttributes: ['objectSid'] });
    const sid = sidString(searchEntries[0]!.objectSid as Buffer);
    const g = AD_GUID;
    const onOu = [
      `(OA;CI;CCDC;${g.userClass};;${sid})`, // create and delete user objects
      `(OA;CIIO;CR;${g.resetPassword};${g.userClass};${sid})`, // reset password
      ...[g.userAccountControl, g.accountExpires, g.description, g.displayName].map((a) => `(OA;CIIO;RPWP;${a};${g.userClass};${sid})`),
    ].join('');
    await dc.sambaTool(['dsacl', 'set', `--objectdn=${jitOu}`, `--sddl=${onOu}`]);
    for (const group of groups) await dc.sambaTool(['dsacl', 'set', `--objectdn=${group}`, `--sddl=(OA;;RPWP;${g.member};;${sid})`]);
  } finally {
    await admin.unbind();
  }
  return { jitOu, groupsOu, groups, unmanagedGroup, serviceDn, servicePassword };
}
