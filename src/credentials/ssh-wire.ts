/** Reader for the SSH wire format (RFC 4251 §5): uint32 lengths, strings, mpints. */
export class SshReader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  u32(): number {
    if (this.at + 4 > this.buf.length) throw new Error('truncated');
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }

  u64(): bigint {
    if (this.at + 8 > this.buf.length) throw new Error('truncated');
    const v = this.buf.readBigUInt64BE(this.at);
    this.at += 8;
    return v;
  }

  /** Where the reader is (bytes consumed so far). */
  get offset(): number {
    return this.at;
  }

  bytes(): Buffer {
    const len = this.u32();
    if (this.at + len > this.buf.length) throw new Error('truncated');
    const v = this.buf.subarray(this.at, this.at + len);
    this.at += len;
    return v;
  }

  text(): string {
    return this.bytes().toString('latin1');
  }

  /** A positive mpint as a big-endian magnitude (leading zero byte stripped). */
  positiveMpint(): Buffer {
    const raw = this.bytes();
    if (raw.length === 0 || (raw[0]! & 0x80) !== 0) throw new Error('not a positive integer');
    if (raw.length > 1 && raw[0] === 0 && (raw[1]! & 0x80) === 0) throw new Error('non-minimal integer');
    return raw[0] === 0 ? raw.subarray(1) : raw;
  }

  get done(): boolean {
    return this.at === this.buf.length;
  }
}

export function bitLength(magnitude: Buffer): number {
  if (magnitude.length === 0) return 0;
  return (magnitude.length - 1) * 8 + (32 - Math.clz32(magnitude[0]!));
}
