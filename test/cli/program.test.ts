/**
 * The CLI's lazy command table: each entry's names are exactly the commands its module adds, and
 * a command builds a program with only its own module (global options and their values skipped).
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, commandName, COMMANDS } from '../../src/cli/program.js';

const names = (p: Command) => p.commands.map((c) => c.name());

describe('timebox command table', () => {
  it('lists, for every module, exactly the commands it registers', async () => {
    for (const entry of COMMANDS) {
      const program = new Command();
      (await entry.load())(program);
      expect(names(program), entry.names.join(',')).toEqual(entry.names);
    }
    const all = COMMANDS.flatMap((c) => c.names);
    expect(new Set(all).size).toBe(all.length);
  });

  it('builds only the command being run; everything for help or an unknown name', async () => {
    expect(names(await buildProgram(['agent', 'run', '--state-dir', '/x']))).toEqual(['agent']);
    expect(names(await buildProgram(['--tenant', 'grants', 'whoami']))).toEqual(['login', 'logout', 'whoami']);
    expect(names(await buildProgram(['--tenant=acme', 'grants', 'list']))).toEqual(['grants']);
    const all = COMMANDS.flatMap((c) => c.names);
    expect(names(await buildProgram([]))).toEqual(all);
    expect(names(await buildProgram(['--help']))).toEqual(all);
    expect(names(await buildProgram(['no-such-command']))).toEqual(all);
    expect(commandName(new Command().option('--tenant <slug>'), ['--', 'serve'])).toBe('serve');
  });
});
