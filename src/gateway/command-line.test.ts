/**
 * Command lines from the bytes a session passes: what was typed (with line editing) is reported
 * only when the host echoed it, so text typed with echo off never is.
 */
import { describe, expect, it } from 'vitest';
import { createCommandTracker, type EnteredCommand } from './command-line.js';
import { createFrameReader, eventFrames, syncFrame } from './live-frames.js';

type Step = ['in', string] | ['out', string];

function run(steps: Step[]): string[] {
  const got: EnteredCommand[] = [];
  const t = createCommandTracker((c) => got.push(c));
  let ms = 0;
  for (const [kind, data] of steps) {
    if (kind === 'in') t.input(data, (ms += 100));
    else t.output(data);
  }
  return got.map((c) => c.text);
}

const PROMPT = '\x1b]0;ann@web-01: ~\x07ann@web-01:~$ ';
/** A shell echoing each key as a terminal in cooked/readline mode would. */
const typed = (text: string): Step[] => [...text].flatMap((ch): Step[] => [['in', ch], ['out', ch]]);

describe('command lines', () => {
  const cases: Array<{ name: string; steps: Step[]; want: string[] }> = [
    { name: 'a line typed and echoed', steps: [['out', PROMPT], ...typed('uptime'), ['in', '\r'], ['out', '\r\n 10:00 up\r\n' + PROMPT]], want: ['uptime'] },
    {
      name: 'backspace, as readline redraws it',
      steps: [['out', PROMPT], ...typed('lx'), ['in', '\x7f'], ['out', '\b\x1b[K'], ...typed('s -l'), ['in', '\r'], ['out', '\r\n']],
      want: ['ls -l'],
    },
    {
      name: 'ctrl-U and ctrl-W',
      steps: [['out', PROMPT], ...typed('rm -rf /'), ['in', '\x15'], ['out', '\r\x1b[K' + PROMPT], ...typed('echo one two'), ['in', '\x17'], ['out', '\b\b\b\x1b[K'], ...typed('three'), ['in', '\r'], ['out', '\r\n']],
      want: ['echo one three'],
    },
    {
      name: 'cursor left and an insertion in the middle',
      steps: [['out', PROMPT], ...typed('sytemctl'), ['in', '\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D'], ['out', '\b\b\b\b\b\b'], ['in', 's'], ['out', 'stemctl\b\b\b\b\b\b'], ['in', '\r'], ['out', '\r\n']],
      want: ['systemctl'],
    },
    {
      name: 'a password at an echo-off prompt is never reported',
      steps: [['out', PROMPT], ...typed('read -s -p "Password: " pw'), ['in', '\r'], ['out', '\r\nPassword: '], ['in', 'hunter2\r'], ['out', '\r\n' + PROMPT], ...typed('echo done'), ['in', '\r'], ['out', '\r\ndone\r\n']],
      want: ['read -s -p "Password: " pw', 'echo done'],
    },
    {
      name: 'read -s prints no newline: the next command shares the password line',
      steps: [['out', PROMPT], ...typed('read -s pw'), ['in', '\r'], ['out', '\r\n'], ['in', 'hunter2\r'], ['out', PROMPT], ...typed('id'), ['in', '\r'], ['out', '\r\nuid=0(root)\r\n']],
      want: ['read -s pw', 'id'],
    },
    {
      name: 'a password at sudo, then a failure line',
      steps: [['out', '[sudo] password for ann: '], ['in', 's3cret\r'], ['out', '\r\nSorry, try again.\r\n[sudo] password for ann: ']],
      want: [],
    },
    { name: 'a pasted line echoed after Enter', steps: [['out', PROMPT], ['in', 'systemctl restart nginx\r'], ['out', 'systemctl restart nginx\r\n']], want: ['systemctl restart nginx'] },
    {
      name: 'history recall: the line the screen shows',
      steps: [['out', PROMPT], ['in', '\x1b[A'], ['out', 'systemctl status nginx'], ['in', '\r'], ['out', '\r\n']],
      want: ['systemctl status nginx'],
    },
    { name: 'tab completion', steps: [['out', PROMPT], ...typed('systemctl rest'), ['in', '\t'], ['out', 'art '], ...typed('nginx'), ['in', '\r'], ['out', '\r\n']], want: ['systemctl restart nginx'] },
    { name: 'ctrl-C abandons the line', steps: [['out', PROMPT], ...typed('reboot'), ['in', '\x03'], ['out', '^C\r\n' + PROMPT]], want: [] },
    { name: 'an empty Enter is nothing', steps: [['out', PROMPT], ['in', '\r'], ['out', '\r\n' + PROMPT]], want: [] },
    // Counts the host sends are the person's to choose (printf '\033[4294967295@'): each costs at
    // most one line, and the next command is still read. Unbounded, one sequence stopped the process.
    ...['4294967295@', '99999999999@', '4294967295C', '99999999P', '4294967295G', '2147483647K'].map((seq) => ({
      name: `a sequence with a huge count (ESC [ ${seq}) and then a command`,
      steps: [['out', PROMPT], ...typed('printf x'), ['in', '\r'], ['out', `\r\n\x1b[${seq}x\r\n` + PROMPT], ...typed('id'), ['in', '\r'], ['out', '\r\nuid=0(root)\r\n']] as Step[],
      want: ['printf x', 'id'],
    })),
    {
      name: 'blanks inserted at the cursor, many times over, keep the line bounded',
      steps: [['out', PROMPT + 'abc\r' + '\x1b[4096@'.repeat(2000)], ['out', '\r\n' + PROMPT], ...typed('id'), ['in', '\r'], ['out', '\r\n']] as Step[],
      want: ['id'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => expect(run(c.steps)).toEqual(c.want));
  }

  it('reports the time of Enter', () => {
    const got: EnteredCommand[] = [];
    const t = createCommandTracker((c) => got.push(c));
    t.output(PROMPT);
    t.input('id', 1000);
    t.output('id');
    t.input('\r', 2500);
    t.output('\r\nuid=0(root)\r\n');
    expect(got).toEqual([{ text: 'id', atMs: 2500 }]);
  });
});

describe('live frames', () => {
  it('splits long lines under the NOTIFY payload limit and joins them back', () => {
    const line = `${JSON.stringify([1.5, 'o', 'é'.repeat(9000)])}\n`;
    const frames = eventFrames(7, line);
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(Buffer.byteLength(f)).toBeLessThan(8000);
    const read = createFrameReader();
    const out = [syncFrame('0f0e0d0c-0b0a-4908-8706-050403020100', 6), ...frames].map(read).filter((f) => f !== null);
    expect(out).toEqual([
      { kind: 'sync', token: '0f0e0d0c-0b0a-4908-8706-050403020100', seq: 6 },
      { kind: 'event', seq: 7, line },
    ]);
  });

  it('skips a part out of order rather than joining the wrong bytes', () => {
    const frames = eventFrames(3, 'x'.repeat(12_000));
    const read = createFrameReader();
    expect([frames[1]!, frames[0]!, frames[2]!].map(read).filter((f) => f !== null)).toEqual([]);
  });
});
