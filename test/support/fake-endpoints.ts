/**
 * Endpoints that pretend to be a target or a relay and record what they receive, to show what
 * Timebox sends where: a PostgreSQL server that asks for the password in clear text or as MD5, a
 * bare TCP listener (standing in for an LDAP server), an SMTP relay that records logins and mail.
 */
import net from 'node:net';
import { once } from 'node:events';
import { SMTPServer } from 'smtp-server';


/** Speaks just enough of the PostgreSQL protocol to ask for a password, then records each message. */
export async function startFakePostgres(asks: 'cleartext' | 'md5') {
  const received: Array<{ type: string; body: Buffer }> = [];
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    let buf = Buffer.alloc(0);
    let started = false;
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (!started) {
          if (buf.length < 8) return;
          const len = buf.readInt32BE(0);
          if (buf.length < len) return;
          const code = buf.readInt32BE(4);
          buf = buf.subarray(len);
          if (code === 80877103) {
            socket.write('N'); // SSLRequest: no TLS here
            continue;
          }
          started = true;
          // AuthenticationCleartextPassword (3) or AuthenticationMD5Password (5) with a salt.
          socket.write(asks === 'cleartext' ? Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]) : Buffer.from([0x52, 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4]));
          continue;
        }
        if (buf.length < 5) return;
        const len = buf.readInt32BE(1);
        if (buf.length < 1 + len) return;
        received.push({ type: String.fromCharCode(buf[0]!), body: Buffer.from(buf.subarray(5, 1 + len)) });
        buf = buf.subarray(1 + len);
        // Whatever it was, refuse the login: this server only wanted to see it.
        const msg = Buffer.from('SFATAL\0C28P01\0Mpassword authentication failed\0\0');
        const out = Buffer.alloc(5 + msg.length);
        out.write('E', 0);
        out.writeInt32BE(4 + msg.length, 1);
        msg.copy(out, 5);
        socket.end(out);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get connections() {
      return connections;
    },
    /** The password messages ('p') and their contents. */
    passwords: () => received.filter((m) => m.type === 'p').map((m) => m.body.toString('utf8').replace(/\0$/, '')),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Accepts connections, records the bytes, answers nothing and hangs up. */
export async function startRecordingListener() {
  let connections = 0;
  const bytes: Buffer[] = [];
  const server = net.createServer((socket) => {
    connections++;
    socket.on('error', () => {});
    socket.on('data', (c) => {
      bytes.push(c);
      socket.destroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    received: () => Buffer.concat(bytes),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** An SMTP relay that records every connection, every AUTH (username and password) and every message. */
export async function startRecordingRelay(opts: { banner?: string } = {}) {
  const logins: Array<{ username: string; password: string }> = [];
  const mails: Array<{ to: string[]; raw: string }> = [];
  let connections = 0;
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    ...(opts.banner ? { banner: opts.banner } : {}),
    onConnect(_session, cb) {
      connections++;
      cb();
    },
    onAuth(auth, _session, cb) {
      logins.push({ username: auth.username ?? '', password: auth.password ?? '' });
      cb(null, { user: auth.username });
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        cb();
      });
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  return {
    port: (server.server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    logins,
    mails,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
