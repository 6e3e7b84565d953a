/**
 * A real rsyslog (Debian rsyslog + rsyslog-gnutls) receiving RFC 5424 over TLS (imtcp, gtls
 * driver, octet-counted framing) and writing every message's raw text, one a line, to a file.
 * Everything lives in a temp dir (config, CA and server certificate made with openssl, work dir,
 * pid file, output); nothing on the system is touched. `stop()` is an outage (SIGTERM: rsyslog
 * writes what it had queued, but a connection arriving as it stops may be read, closed cleanly and
 * its messages dropped: stop it between deliveries), `start()` brings it back on the same port
 * appending to the same file.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** /usr/sbin is not on every user's PATH. */
const RSYSLOGD = existsSync('/usr/sbin/rsyslogd') ? '/usr/sbin/rsyslogd' : 'rsyslogd';

export interface Rsyslog {
  port: number;
  /** PEM of the CA that issued the server certificate (for the sender's trust). */
  caFile: string;
  /** The certificate names: localhost and 127.0.0.1. */
  host: string;
  /** Raw messages received so far (RFC 5424 text without the octet count). */
  messages(): Promise<string[]>;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function makeCertificates(dir: string) {
  const ca = { key: path.join(dir, 'ca.key'), cert: path.join(dir, 'ca.pem') };
  const server = { key: path.join(dir, 'server.key'), cert: path.join(dir, 'server.pem'), csr: path.join(dir, 'server.csr') };
  const ext = path.join(dir, 'server.ext');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ca.key, '-out', ca.cert, '-days', '2', '-subj', '/CN=Timebox test syslog CA']);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', server.key, '-out', server.csr, '-subj', '/CN=localhost']);
  await writeFile(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', server.csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', server.cert, '-days', '2', '-extfile', ext]);
  return { ca, server };
}

/** rsyslog's config syntax quotes with "..."; temp paths never hold quotes, but refuse if they did. */
const q = (s: string) => {
  if (/["\\\n]/.test(s)) throw new Error(`unexpected character in ${s}`);
  return `"${s}"`;
};

export async function startRsyslog(): Promise<Rsyslog> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'timebox-rsyslog-'));
  const work = path.join(dir, 'work');
  await mkdir(work);
  const { ca, server } = await makeCertificates(dir);
  const port = await freePort();
  const out = path.join(dir, 'received.log');
  const conf = path.join(dir, 'rsyslog.conf');
  const pidFile = path.join(dir, 'rsyslog.pid');
  await writeFile(
    conf,
    [
      // Audit events with large before/after exceed the 8 KiB default.
      `global(workDirectory=${q(work)} maxMessageSize="256k"`,
      `       DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile=${q(ca.cert)}`,
      `       DefaultNetstreamDriverCertFile=${q(server.cert)} DefaultNetstreamDriverKeyFile=${q(server.key)})`,
      'module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")',
      'template(name="raw" type="string" string="%rawmsg%\\n")',
      `ruleset(name="siem") { action(type="omfile" file=${q(out)} template="raw") }`,
      `input(type="imtcp" port="${port}" address="127.0.0.1" ruleset="siem")`,
      '',
    ].join('\n'),
  );
  let child: ChildProcess | null = null;
  let stderr = '';

  async function start() {
    if (child) return;
    stderr = '';
    const proc = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', pidFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child = proc;
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`rsyslogd exited (${code}): ${stderr}`))));
    exited.catch(() => {});
    // Ready when it accepts connections (each probe is one connect, awaited; not a fixed wait).
    for (let i = 0; ; i++) {
      const ok = await Promise.race([
        new Promise<boolean>((resolve) => {
          const s = connect(port, '127.0.0.1');
          s.once('connect', () => {
            s.destroy();
            resolve(true);
          });
          s.once('error', () => resolve(false));
        }),
        exited,
      ]);
      if (ok) return;
      if (i > 200) throw new Error(`rsyslogd did not listen: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function stop() {
    const proc = child;
    if (!proc) return;
    child = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await gone;
  }

  const onExit = () => child?.kill('SIGKILL');
  process.once('exit', onExit);
  await start();

  return {
    port,
    caFile: ca.cert,
    host: 'localhost',
    async messages() {
      let text = '';
      try {
        text = await readFile(out, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      return text.split('\n').filter((l) => l !== '');
    },
    stop,
    start,
    async destroy() {
      await stop();
      process.removeListener('exit', onExit);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
