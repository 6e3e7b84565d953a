/**
 * Which files an SFTP session moved, read off the relayed packets (SFTP v3, draft-ietf-secsh-filexfer-02):
 * OPEN names a file, the server's HANDLE reply ties a handle to it, READ replies (DATA) and
 * acknowledged WRITEs count its bytes, CLOSE ends it. Only each packet's head is kept: the data
 * itself passes through untouched and unbuffered. Pure: no I/O.
 */

const FXP = { INIT: 1, VERSION: 2, OPEN: 3, CLOSE: 4, READ: 5, WRITE: 6, STATUS: 101, HANDLE: 102, DATA: 103 } as const;
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

export function sftpTransferLog(onFile: (t: FileTransfer) => void): SftpTransferLog {
  type Open = { path: string; bytesRead: number; bytesWritten: number };
  // Request id → what it asked; replies carry the id.
  const opening = new Map<number, string>();
  const reading = new Map<number, string>();
  const writing = new Map<number, { handle: string; bytes: number }>();
  const closing = new Map<number, string>();
  const files = new Map<string, Open>();
  // Every request id the client has in flight, whatever the request: the host answers each once.
  const inFlight = new Set<number>();
  const finish = (handle: string) => {
    const f = files.get(handle);
    if (!f) return;
    files.delete(handle);
    onFile({ ...f, direction: directionOf(f.bytesRead, f.bytesWritten) });
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
