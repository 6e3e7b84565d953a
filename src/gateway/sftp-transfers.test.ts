import { describe, expect, it } from 'vitest';
import { packetReader, sftpTransferLog, type FileTransfer, type SftpOperation } from './sftp-transfers.js';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const str = (s: string | Buffer) => {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([u32(b.length), b]);
};
const packet = (type: number, ...parts: Buffer[]) => {
  const body = Buffer.concat([Buffer.from([type]), ...parts]);
  return Buffer.concat([u32(body.length), body]);
};
const u64 = (n: number) => Buffer.concat([u32(0), u32(n)]);

/** One upload and one download, as OpenSSH's sftp sends them. */
function conversation() {
  const h1 = Buffer.from('h-1');
  const h2 = Buffer.from('h-2');
  const client = [
    packet(3, u32(1), str('/tmp/up.bin'), u32(0x1a), u32(0)),
    packet(6, u32(2), str(h1), u64(0), str(Buffer.alloc(30_000, 1))),
    packet(6, u32(3), str(h1), u64(30_000), str(Buffer.alloc(12_345, 2))),
    packet(4, u32(4), str(h1)),
    packet(3, u32(5), str('/etc/passwd'), u32(1), u32(0)),
    packet(5, u32(6), str(h2), u64(0), u32(32_768)),
    packet(5, u32(7), str(h2), u64(900), u32(32_768)),
    packet(4, u32(8), str(h2)),
  ];
  const host = [
    packet(102, u32(1), str(h1)),
    packet(101, u32(2), u32(0), str(''), str('')),
    packet(101, u32(3), u32(0), str(''), str('')),
    packet(101, u32(4), u32(0), str(''), str('')),
    packet(102, u32(5), str(h2)),
    packet(103, u32(6), str(Buffer.alloc(900, 3))),
    packet(101, u32(7), u32(1), str('EOF'), str('')),
    packet(101, u32(8), u32(0), str(''), str('')),
  ];
  return { client, host };
}

describe('sftp transfer log', () => {
  it.each([1, 7, 4096, 1 << 20])('logs each file by name, direction and size, whatever the chunking (%i bytes)', (size) => {
    const files: FileTransfer[] = [];
    const log = sftpTransferLog((f) => files.push(f));
    const fromClient = packetReader((h) => log.fromClient(h));
    const fromHost = packetReader((h) => log.fromHost(h));
    const { client, host } = conversation();
    // Requests and replies interleave as on the wire: each request, then its reply.
    client.forEach((c, i) => {
      for (let at = 0; at < c.length; at += size) fromClient(c.subarray(at, at + size));
      const r = host[i]!;
      for (let at = 0; at < r.length; at += size) fromHost(r.subarray(at, at + size));
    });
    expect(files).toEqual([
      { path: '/tmp/up.bin', direction: 'upload', bytesRead: 0, bytesWritten: 42_345 },
      { path: '/etc/passwd', direction: 'download', bytesRead: 900, bytesWritten: 0 },
    ]);
    expect(log.drain()).toEqual([]);
  });

  it('a failed write is not counted; a file left open is reported when the session ends', () => {
    const files: FileTransfer[] = [];
    const log = sftpTransferLog((f) => files.push(f));
    const read = packetReader((h) => log.fromClient(h));
    const reply = packetReader((h) => log.fromHost(h));
    read(packet(3, u32(1), str('/srv/a'), u32(0x1a), u32(0)));
    reply(packet(102, u32(1), str('h')));
    read(packet(6, u32(2), str('h'), u64(0), str(Buffer.alloc(10))));
    reply(packet(101, u32(2), u32(4), str('failure'), str('')));
    read(packet(6, u32(3), str('h'), u64(0), str(Buffer.alloc(5))));
    reply(packet(101, u32(3), u32(0), str(''), str('')));
    expect(files).toEqual([]);
    expect(log.drain()).toEqual([{ path: '/srv/a', direction: 'upload', bytesRead: 0, bytesWritten: 5 }]);
  });

  it('refuses a request id still in flight (replies could no longer be tied to their files), and a flood of requests', () => {
    const log = sftpTransferLog(() => {});
    expect(log.fromClient(packet(1, u32(3)).subarray(4))).toBeNull(); // INIT: a version, no id
    expect(log.fromClient(packet(3, u32(9), str('/nope'), u32(1), u32(0)).subarray(4))).toBeNull();
    // The same id again before the host answered: a failing OPEN would clear the real one's path.
    expect(log.fromClient(packet(3, u32(9), str('/home/deploy/secret.txt'), u32(1), u32(0)).subarray(4))).toBe(
      'request id 9 was used again while its first request was unanswered',
    );
    log.fromHost(packet(101, u32(9), u32(2), str('no such file'), str('')).subarray(4));
    // Answered: the id may be used again.
    expect(log.fromClient(packet(3, u32(9), str('/srv/b'), u32(1), u32(0)).subarray(4))).toBeNull();
    const flood = sftpTransferLog(() => {});
    const refusals = Array.from({ length: 4097 }, (_, i) => flood.fromClient(packet(5, u32(i), str('h'), u64(0), u32(1)).subarray(4)));
    expect(refusals.filter((r) => r !== null)).toEqual(['more than 4096 requests in flight']);
  });

  it('reports renames, removals, links, directories and attribute changes the host carried out, not those it refused', () => {
    const ops: SftpOperation[] = [];
    const log = sftpTransferLog(() => {}, (o) => ops.push(o));
    const ask = packetReader((h) => log.fromClient(h));
    const answer = packetReader((h) => log.fromHost(h));
    const ok = (id: number) => answer(packet(101, u32(id), u32(0), str(''), str('')));
    ask(packet(3, u32(1), str('/home/deploy/notes.txt'), u32(0x1a), u32(0)));
    answer(packet(102, u32(1), str('h1')));
    const requests: Array<[number, Buffer]> = [
      [2, packet(18, u32(2), str('/home/deploy/a'), str('/home/deploy/b'))],
      [3, packet(200, u32(3), str('posix-rename@openssh.com'), str('/home/deploy/notes.txt'), str('/home/deploy/.bashrc'))],
      [4, packet(13, u32(4), str('/home/deploy/.profile'))],
      [5, packet(20, u32(5), str('/home/deploy/link'), str('/etc/shadow'))],
      [6, packet(14, u32(6), str('/home/deploy/.ssh'), u32(0))],
      [7, packet(9, u32(7), str('/home/deploy/run.sh'), u32(4), u32(0o4755))],
      [8, packet(10, u32(8), str('h1'), u32(4), u32(0o600))],
      [9, packet(200, u32(9), str('copy-data'), str('h1'), u64(0), u64(0), str('h1'), u64(100))],
      [10, packet(200, u32(10), str('hardlink@openssh.com'), str('/etc/passwd'), str('/home/deploy/p'))],
      [11, packet(15, u32(11), str('/home/deploy/old'))],
    ];
    for (const [id, p] of requests) {
      ask(p);
      ok(id);
    }
    // Refused by the host: nothing changed, nothing reported.
    ask(packet(13, u32(12), str('/etc/passwd')));
    answer(packet(101, u32(12), u32(3), str('permission denied'), str('')));
    // Not a change: statvfs and the like pass unreported.
    ask(packet(200, u32(13), str('statvfs@openssh.com'), str('/')));
    ok(13);
    expect(ops).toEqual([
      { op: 'rename', paths: ['/home/deploy/a', '/home/deploy/b'] },
      { op: 'rename', paths: ['/home/deploy/notes.txt', '/home/deploy/.bashrc'] },
      { op: 'remove', paths: ['/home/deploy/.profile'] },
      { op: 'symlink', paths: ['/home/deploy/link', '/etc/shadow'] },
      { op: 'mkdir', paths: ['/home/deploy/.ssh'] },
      { op: 'setstat', paths: ['/home/deploy/run.sh'] },
      { op: 'setstat', paths: ['/home/deploy/notes.txt'] },
      { op: 'copy-data', paths: ['/home/deploy/notes.txt', '/home/deploy/notes.txt'] },
      { op: 'hardlink', paths: ['/etc/passwd', '/home/deploy/p'] },
      { op: 'rmdir', paths: ['/home/deploy/old'] },
    ]);
  });
});
