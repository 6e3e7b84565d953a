/** Reading a password: one line from stdin (--password-stdin), or a prompt that does not echo. */
import { createInterface } from 'node:readline';
import { CliError, ExitCode } from './exit-codes.js';

/** The first line of stdin, without its line ending. */
export async function readLineFromStdin(): Promise<string> {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  try {
    for await (const line of rl) return line;
    return '';
  } finally {
    rl.close();
    process.stdin.destroy();
  }
}

/** The first `n` lines of stdin (e.g. current and new password), without line endings. */
export async function readLinesFromStdin(n: number): Promise<string[]> {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  const lines: string[] = [];
  try {
    for await (const line of rl) {
      lines.push(line);
      if (lines.length === n) break;
    }
    return lines;
  } finally {
    rl.close();
    process.stdin.destroy();
  }
}

/** Asks on stderr and reads keystrokes in raw mode, so the password never shows on screen. */
export async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new CliError('no terminal to ask for the password on; pipe it in with --password-stdin', ExitCode.usage);
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise<string>((resolve, reject) => {
    let chars: string[] = [];
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolve(chars.join(''));
          return;
        }
        if (ch === '\u0003' || (ch === '\u0004' && chars.length === 0)) {
          finish();
          reject(new CliError('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') chars = chars.slice(0, -1);
        else if (ch === '\u0015') chars = []; // Ctrl-U: start over
        else if (ch >= ' ') chars.push(ch);
      }
    };
    stdin.on('data', onData);
  });
}
