/**
 * Reads a small text file a person names on the command line (a public key, a CSR). It reads at
 * most one byte past the limit from an open handle, so a device or a pipe (`/dev/urandom`) is
 * refused at the limit instead of read until memory runs out, and bytes that are not UTF-8 are
 * refused rather than turned into replacement characters.
 */
import { open } from 'node:fs/promises';
import { decodeUtf8 } from '../core/text.js';
import { CliError, ExitCode } from './exit-codes.js';

export async function readSmallTextFile(file: string, maxBytes: number, what: string): Promise<string> {
  let bytes: Buffer;
  try {
    const handle = await open(file, 'r');
    try {
      const buf = Buffer.alloc(maxBytes + 1);
      let filled = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buf, filled, buf.length - filled, null);
        if (bytesRead === 0) break;
        filled += bytesRead;
        if (filled > maxBytes) throw new CliError(`${file} is larger than ${maxBytes / 1024} KiB; expected ${what}`, ExitCode.usage);
      }
      bytes = buf.subarray(0, filled);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, ExitCode.usage);
  }
  const text = decodeUtf8(bytes);
  if (text === null) throw new CliError(`${file} is not UTF-8 text; expected ${what}`, ExitCode.usage);
  return text;
}
