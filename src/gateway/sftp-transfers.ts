/**
 * Which files an SFTP session moved, read off the relayed packets (SFTP v3, draft-ietf-secsh-filexfer-02):
 * OPEN names a file, the server's HANDLE reply ties a handle to it, READ replies (DATA) and
 * acknowledged WRITEs count its bytes, CLOSE ends it. Requests that change files without moving
 * their bytes (rename, remove, links, directories, attributes, OpenSSH's posix-rename, hardlink
 * and copy-data) are reported once the host answered them with success. Only each packet's head
 * is kept: the data itself passes through untouched and unbuffered. Pure: no I/O.
 */

const FXP = {
  INIT: 1, VERSION: 2, OPEN: 3, CLOSE: 4, READ: 5, WRITE: 6, SETSTAT: 9, FSETSTAT: 10, REMOVE: 13, MKDIR: 14, RMDIR: 15,
  RENAME: 18, SYMLINK: 20, EXTENDED: 200, STATUS: 101, HANDLE: 102, DATA: 103,
} as const;
/** Extended requests that change files (OpenSSH's), by name: how many path arguments precede the rest. */
const CHANGING_EXTENSIONS: Record<string, { op: SftpOperation['op']; paths: number }> = {
  'posix-rename@openssh.com': { op: 'rename', paths: 2 },
  'hardlink@openssh.com': { op: 'hardlink', paths: 2 },
};
/** Requests in flight at once: OpenSSH's client keeps 64; far beyond that is no client's need. */
const MAX_IN_FLIGHT = 4096;
const FX_OK = 0;
/** Enough for the header, a handle (≤ 256 bytes in practice) and a long path. */
const HEAD_MAX = 8192;

export interface FileTransfer {
  path: string;
  /** Bytes read from the host (downloaded). */
  bytesRead: number;
  /** Bytes written to the host (uploaded), acknowledged by it. */
  bytesWritten: number;
  direction: 'download' | 'upload' | 'both' | 'none';
}

/**
 * Splits a byte stream into SFTP packets (uint32 length, then the packet), handing on the first
 * HEAD_MAX bytes of each with its full length.
 */
export function packetReader(onPacket: (head: Buffer, length: number) => void): (chunk: Buffer) => void {
  const len = Buffer.alloc(4);
  let lenHave = 0;
  let length = 0;
  let head: Buffer[] = [];
  let headHave = 0;
  let headWant = 0;
  let skip = 0;
  let state: 'len' | 'head' | 'skip' = 'len';
  return (chunk) => {
    let i = 0;
    while (i < chunk.length) {
      if (state === 'len') {
        const n = Math.min(4 - lenHave, chunk.length - i);
        chunk.copy(len, lenHave, i, i + n);
        lenHave += n;
        i += n;
        if (lenHave === 4) {
          lenHave = 0;
          length = len.readUInt32BE(0);
          headWant = Math.min(length, HEAD_MAX);
          head = [];
          headHave = 0;
          skip = length - headWant;
          if (headWant > 0) state = 'head';
          else onPacket(Buffer.alloc(0), 0);
        }
      } else if (state === 'head') {
        const n = Math.min(headWant - headHave, chunk.length - i);
        head.push(chunk.subarray(i, i + n));
        headHave += n;
        i += n;
        if (headHave === headWant) {
          onPacket(Buffer.concat(head), length);
          state = skip > 0 ? 'skip' : 'len';
        }
      } else {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        if (skip === 0) state = 'len';
      }
    }
  };
}

/** A cursor over a packet head; reads past its end give null (a truncated head is ignored). */
function cursor(b: Buffer) {
  let at = 0;
  return {
    byte: () => (at + 1 <= b.length ? b[at++]! : null),
    u32: () => {
      if (at + 4 > b.length) return null;
      const v = b.readUInt32BE(at);
      at += 4;
      return v;
    },
    skip: (n: number) => {
      at += n;
    },
    str: () => {
      if (at + 4 > b.length) return null;
      const n = b.readUInt32BE(at);
      if (at + 4 + n > b.length) return null;
      const s = b.subarray(at + 4, at + 4 + n);
      at += 4 + n;
      return s;
    },
    /** The length of a string without needing its bytes. */
    strLength: () => {
      if (at + 4 > b.length) return null;
      return b.readUInt32BE(at);
    },
  };
}

/** A change to the host's files other than a transfer: logged once the host said it was done. */
export interface SftpOperation {
  op: 'remove' | 'mkdir' | 'rmdir' | 'setstat' | 'rename' | 'symlink' | 'hardlink' | 'copy-data';
  /** The paths it names (a renamed file's old and new path); a handle stands for its file's path. */
  paths: string[];
}

export interface SftpTransferLog {
  /**
   * A packet from the person's client to the host. A sentence when the packet cannot be accounted
   * for (a request id still in flight, too many requests in flight): the session must end before
   * the packet reaches the host, since replies would then be tied to the wrong request.
   */
  fromClient(head: Buffer): string | null;
  /** A packet from the host back to the client. */
  fromHost(head: Buffer): void;
  /** Files still open (the session ended without CLOSE): reported as they stand. */
  drain(): FileTransfer[];
}

const directionOf = (read: number, written: number): FileTransfer['direction'] =>
  read > 0 && written > 0 ? 'both' : read > 0 ? 'download' : written > 0 ? 'upload' : 'none';

export function sftpTransferLog(onFile: (t: FileTransfer) => void, onOperation: (o: SftpOperation) => void = () => {}): SftpTransferLog {
  type Open = { path: string; bytesRead: number; bytesWritten: number };
  // Request id → what it asked; replies carry the id.
  const opening = new Map<number, string>();
  const reading = new Map<number, string>();
  const writing = new Map<number, { handle: string; bytes: number }>();
  const closing = new Map<number, string>();
  const files = new Map<string, Open>();
  // Every request id the client has in flight, whatever the request: the host answers each once.
  const inFlight = new Set<number>();
  const changing = new Map<number, SftpOperation>();
  const utf8 = (b: Buffer | null) => (b ? b.toString('utf8') : null);
  const pathOfHandle = (h: Buffer | null) => (h ? (files.get(h.toString('hex'))?.path ?? '(a handle not opened through a logged OPEN)') : null);
  /** Reads `n` path strings; null when the head was cut short. */
  const paths = (c: ReturnType<typeof cursor>, n: number): string[] | null => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const p = utf8(c.str());
      if (p === null) return null;
      out.push(p);
    }
    return out;
  };
  const finish = (handle: string) => {
    const f = files.get(handle);
    if (!f) return;
    files.delete(handle);
    onFile({ ...f, direction: directionOf(f.bytesRead, f.bytesWritten) });
  };
  /** A request that changes files without transferring them, as it will be logged; else null. */
  const changeOf = (type: number, c: ReturnType<typeof cursor>): SftpOperation | null => {
    /** The operation with its first `n` path arguments. */
    const named = (op: SftpOperation['op'], n: number) => {
      const p = paths(c, n);
      return p ? { op, paths: p } : null;
    };
    switch (type) {
      case FXP.REMOVE:
        return named('remove', 1);
      case FXP.MKDIR:
        return named('mkdir', 1);
      case FXP.RMDIR:
        return named('rmdir', 1);
      case FXP.SETSTAT:
        return named('setstat', 1);
      case FXP.FSETSTAT: {
        const h = pathOfHandle(c.str());
        return h === null ? null : { op: 'setstat', paths: [h] };
      }
      case FXP.RENAME:
        return named('rename', 2);
      case FXP.SYMLINK:
        return named('symlink', 2);
      case FXP.EXTENDED: {
        const name = utf8(c.str());
        if (name === 'copy-data') {
          // read handle, offset, length, write handle: the written file changes on the host.
          const from = pathOfHandle(c.str());
          c.skip(16);
          const to = pathOfHandle(c.str());
          return from !== null && to !== null ? { op: 'copy-data', paths: [from, to] } : null;
        }
        const ext = name ? CHANGING_EXTENSIONS[name] : undefined;
        return ext ? named(ext.op, ext.paths) : null;
      }
      default:
        return null;
    }
  };
  return {
    fromClient(head) {
      const c = cursor(head);
      const type = c.byte();
      const id = c.u32();
      // INIT carries a version, not a request id.
      if (type === null || id === null || type === FXP.INIT) return null;
      if (inFlight.has(id)) return `request id ${id} was used again while its first request was unanswered`;
      if (inFlight.size >= MAX_IN_FLIGHT) return `more than ${MAX_IN_FLIGHT} requests in flight`;
      inFlight.add(id);
      if (type === FXP.OPEN) {
        const path = c.str();
        if (path) opening.set(id, path.toString('utf8'));
      } else if (type === FXP.READ) {
        const h = c.str();
        if (h) reading.set(id, h.toString('hex'));
      } else if (type === FXP.WRITE) {
        const h = c.str();
        if (!h) return null;
        c.skip(8); // offset
        const n = c.strLength();
        if (n !== null) writing.set(id, { handle: h.toString('hex'), bytes: n });
      } else if (type === FXP.CLOSE) {
        const h = c.str();
        if (h) closing.set(id, h.toString('hex'));
      } else {
        const op = changeOf(type, c);
        if (op) changing.set(id, op);
      }
      return null;
    },
    fromHost(head) {
      const c = cursor(head);
      const type = c.byte();
      const id = c.u32();
      if (type === null || id === null || type === FXP.VERSION) return;
      // Each reply answers (and ends) one request.
      inFlight.delete(id);
      if (type === FXP.HANDLE) {
        const path = opening.get(id);
        opening.delete(id);
        const h = c.str();
        if (path !== undefined && h) files.set(h.toString('hex'), { path, bytesRead: 0, bytesWritten: 0 });
      } else if (type === FXP.DATA) {
        const h = reading.get(id);
        reading.delete(id);
        const n = c.strLength();
        const f = h !== undefined ? files.get(h) : undefined;
        if (f && n !== null) f.bytesRead += n;
      } else if (type === FXP.STATUS) {
        const code = c.u32();
        opening.delete(id);
        reading.delete(id);
        const w = writing.get(id);
        writing.delete(id);
        if (w && code === FX_OK) {
          const f = files.get(w.handle);
          if (f) f.bytesWritten += w.bytes;
        }
        const change = changing.get(id);
        changing.delete(id);
        if (change && code === FX_OK) onOperation(change);
        const closed = closing.get(id);
        closing.delete(id);
        // Closed (or failed to close: the handle is gone either way for the log).
        if (closed !== undefined) finish(closed);
      }
    },
    drain() {
      const left = [...files.values()].map((f) => ({ ...f, direction: directionOf(f.bytesRead, f.bytesWritten) }));
      files.clear();
      return left;
    },
  };
}
