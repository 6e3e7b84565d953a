/** Minimal DER helpers for X.509 serials and the CRL number (@peculiar/x509 takes hex or DER). */

/** Hex of a positive DER INTEGER's content: even length, leading 00 when the top bit is set. */
export function positiveIntegerHex(value: bigint): string {
  if (value <= 0n) throw new Error('serials are positive');
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  return hex;
}

/** A complete DER INTEGER (tag, length, content) for a small positive value. */
export function derInteger(value: bigint): Buffer {
  const content = Buffer.from(positiveIntegerHex(value), 'hex');
  if (content.length > 127) throw new Error('integer too large for a short-form length');
  return Buffer.concat([Buffer.from([0x02, content.length]), content]);
}

/** A stored serial (decimal string) as @peculiar/x509 wants it. */
export const serialToHex = (serial: string): string => positiveIntegerHex(BigInt(serial));
