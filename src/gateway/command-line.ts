/**
 * The command lines a person enters at a shell prompt, as the gateway sees them pass: what was
 * typed (with line editing applied: backspace, ctrl-U, ctrl-W, ctrl-A/E/K, arrows), and what the
 * host echoed back on the terminal. A line is reported only when the host echoed it, so text
 * typed while the echo is off — a password at `sudo`, `su`, `read -s` — is never reported.
 *
 * Pure: bytes in, commands out through the callback; no I/O.
 *
 * How a line is judged echoed: on Enter the typed line waits; the next line the host ends (a
 * newline in the output) must end with the typed text. History recall, tab completion and
 * reverse search make the typed text unknown: then the command is what the screen line shows
 * from where the cursor stood when the first key of the line was pressed, provided it starts
 * with what was typed before. A waiting line that the next screen line does not show is dropped,
 * never reported (a later one may be: the command typed after a password shares its line).
 */

export interface EnteredCommand {
  text: string;
  /** Milliseconds into the session when Enter was pressed. */
  atMs: number;
}

interface Pending {
  typed: string;
  prefix: string;
  unknown: boolean;
  startCol: number;
  atMs: number;
}

const MAX_LINE = 4096;
const MAX_PENDING = 32;

/** A minimal escape-sequence reader, enough to skip what is not text (kept across chunks). */
type EscState = { kind: 'text' } | { kind: 'esc' } | { kind: 'csi'; params: string } | { kind: 'osc'; sawEsc: boolean } | { kind: 'ss3' };

export interface CommandTracker {
  input(data: string, atMs: number): void;
  output(data: string): void;
}

export function createCommandTracker(onCommand: (c: EnteredCommand) => void): CommandTracker {
  // The line being typed.
  let buf: string[] = [];
  let cur = 0;
  let unknown = false;
  let prefix = '';
  let startCol: number | null = null;
  let inEsc: EscState = { kind: 'text' };
  // The screen line the host is drawing.
  let line: string[] = [];
  let col = 0;
  let outEsc: EscState = { kind: 'text' };
  const pending: Pending[] = [];

  const resetInput = () => {
    buf = [];
    cur = 0;
    unknown = false;
    prefix = '';
    startCol = null;
  };
  const markUnknown = () => {
    if (!unknown) prefix = buf.join('');
    unknown = true;
  };

  const enter = (atMs: number) => {
    const typed = buf.join('');
    if (typed.trim() !== '' || unknown) {
      pending.push({ typed, prefix, unknown, startCol: startCol ?? col, atMs });
      if (pending.length > MAX_PENDING) pending.shift();
    }
    resetInput();
  };

  const deleteWordBefore = () => {
    let i = cur;
    while (i > 0 && buf[i - 1] === ' ') i--;
    while (i > 0 && buf[i - 1] !== ' ') i--;
    buf.splice(i, cur - i);
    cur = i;
  };

  const csiInput = (params: string, final: string) => {
    if (final === 'D') cur = Math.max(0, cur - 1);
    else if (final === 'C') cur = Math.min(buf.length, cur + 1);
    else if (final === 'H') cur = 0;
    else if (final === 'F') cur = buf.length;
    else if (final === '~' && params === '3') buf.splice(cur, 1);
    else if (final === '~' && (params === '200' || params === '201')) return; // bracketed paste marks
    else if (final === 'A' || final === 'B') markUnknown();
  };

  const keyInput = (ch: string, atMs: number) => {
    const code = ch.charCodeAt(0);
    if (ch === '\r' || ch === '\n') return enter(atMs);
    if (code >= 0x20 && code !== 0x7f) {
      if (buf.length < MAX_LINE) {
        buf.splice(cur, 0, ch);
        cur++;
      }
      return;
    }
    switch (code) {
      case 0x7f:
      case 0x08:
        if (cur > 0) {
          buf.splice(cur - 1, 1);
          cur--;
        }
        return;
      case 0x15: // ctrl-U
        buf.splice(0, cur);
        cur = 0;
        return;
      case 0x17: // ctrl-W
        return deleteWordBefore();
      case 0x01: // ctrl-A
        cur = 0;
        return;
      case 0x05: // ctrl-E
        cur = buf.length;
        return;
      case 0x02: // ctrl-B
        cur = Math.max(0, cur - 1);
        return;
      case 0x06: // ctrl-F
        cur = Math.min(buf.length, cur + 1);
        return;
      case 0x0b: // ctrl-K
        buf.splice(cur);
        return;
      case 0x04: // ctrl-D
        buf.splice(cur, 1);
        return;
      case 0x03: // ctrl-C abandons the line
        return resetInput();
      case 0x09: // tab completion, history and search: the shell knows the line, we do not
      case 0x12:
      case 0x10:
      case 0x0e:
      case 0x19:
        return markUnknown();
      default:
        return;
    }
  };

  const lineEnded = () => {
    const shown = line.join('').trimEnd();
    line = [];
    col = 0;
    // The oldest waiting line this screen line shows is reported; those before it were not
    // echoed (a password, then the next command on the same line) and are dropped.
    while (pending.length > 0) {
      const p = pending.shift()!;
      const text = echoed(p, shown);
      if (text !== null) {
        onCommand({ text, atMs: p.atMs });
        return;
      }
    }
  };

  /** The command as the screen line shows it, or null when the line does not show it. */
  const echoed = (p: Pending, shown: string): string | null => {
    if (!p.unknown) {
      const typed = p.typed.trim();
      return typed !== '' && shown.endsWith(typed) ? typed : null;
    }
    const text = shown.slice(p.startCol).trim();
    return text !== '' && text.startsWith(p.prefix.trim()) ? text : null;
  };

  const csiOutput = (params: string, final: string) => {
    if (params.startsWith('?') || params.startsWith('>')) return;
    // The host chooses these numbers (a person can print any sequence): no count or column goes
    // past the longest line tracked, so no sequence costs more than that line.
    const n = Math.min(MAX_LINE, Math.max(1, Number.parseInt(params || '1', 10) || 1));
    const p0 = Number.parseInt(params || '0', 10) || 0;
    switch (final) {
      case 'K':
        if (p0 === 0) line.splice(col);
        else if (p0 === 1) for (let i = 0; i < Math.min(col + 1, line.length); i++) line[i] = ' ';
        else line = [];
        return;
      case 'C':
        col = Math.min(MAX_LINE, col + n);
        return;
      case 'D':
        col = Math.max(0, col - n);
        return;
      case 'G':
        col = n - 1;
        return;
      case 'P':
        line.splice(col, n);
        return;
      case '@':
        if (col < line.length) {
          line.splice(col, 0, ...Array<string>(n).fill(' '));
          if (line.length > MAX_LINE) line.length = MAX_LINE;
        }
        return;
      case 'J':
        if (p0 === 2 || p0 === 3) line = [];
        return;
      default:
        return;
    }
  };

  const put = (ch: string) => {
    if (col >= MAX_LINE) return;
    while (line.length < col) line.push(' ');
    line[col] = ch;
    col++;
  };

  /** Runs the escape reader; returns true when `ch` belonged to an escape sequence. */
  const escape = (state: EscState, ch: string, onCsi: (params: string, final: string) => void, onSs3: (final: string) => void): EscState | null => {
    switch (state.kind) {
      case 'text':
        return ch === '\x1b' ? { kind: 'esc' } : null;
      case 'esc':
        if (ch === '[') return { kind: 'csi', params: '' };
        if (ch === ']') return { kind: 'osc', sawEsc: false };
        if (ch === 'O') return { kind: 'ss3' };
        return { kind: 'text' };
      case 'csi':
        if (ch >= '@' && ch <= '~') {
          onCsi(state.params, ch);
          return { kind: 'text' };
        }
        return state.params.length < 32 ? { kind: 'csi', params: state.params + ch } : { kind: 'text' };
      case 'osc':
        if (ch === '\x07' || (state.sawEsc && ch === '\\')) return { kind: 'text' };
        return { kind: 'osc', sawEsc: ch === '\x1b' };
      case 'ss3':
        onSs3(ch);
        return { kind: 'text' };
    }
  };

  return {
    input(data, atMs) {
      for (const ch of data) {
        if (startCol === null) startCol = col;
        const next = escape(inEsc, ch, csiInput, (f) => csiInput('', f));
        if (next) {
          // Alt-b, alt-f and the like move by words: the line is the shell's to know.
          if (inEsc.kind === 'esc' && next.kind === 'text' && ch !== '\x1b') markUnknown();
          inEsc = next;
          continue;
        }
        keyInput(ch, atMs);
      }
    },
    output(data) {
      // Nothing waits for an echo: only the line after the last newline matters (bulk output
      // such as `cat` of a large file costs one search, not a walk through every character).
      let from = 0;
      if (pending.length === 0 && outEsc.kind === 'text') {
        const nl = data.lastIndexOf('\n');
        if (nl >= 0) {
          line = [];
          col = 0;
          from = nl + 1;
        }
      }
      for (const ch of from > 0 ? data.slice(from) : data) {
        const next = escape(outEsc, ch, csiOutput, () => {});
        if (next) {
          outEsc = next;
          continue;
        }
        const code = ch.charCodeAt(0);
        if (ch === '\n') lineEnded();
        else if (ch === '\r') col = 0;
        else if (code === 0x08) col = Math.max(0, col - 1);
        else if (ch === '\t') col = Math.min(MAX_LINE, (Math.floor(col / 8) + 1) * 8);
        else if (code >= 0x20 && code !== 0x7f) put(ch);
      }
    },
  };
}
