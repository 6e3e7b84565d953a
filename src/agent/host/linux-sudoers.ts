/**
 * One sudoers drop-in per grant in /etc/sudoers.d. A broken sudoers file can lock every
 * administrator out, so a rule is installed only after `visudo -c` accepted it on its own (in a
 * temp file sudo ignores) and is taken out again if the whole configuration then fails to parse.
 * The rule carries sudo's NOTBEFORE/NOTAFTER: sudo itself refuses it after the end even if the
 * agent is dead (second resolution, unlike account expiry).
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { invalid, unsupported } from '../../core/errors.js';
import { accountNameProblem, assertGrantId, runAsProblem, sudoCommandProblem } from '../../agent-wire/names.js';
import type { InstalledSudoRule } from './host-operations.js';
import { findTool, run } from './exec.js';

export interface SudoersPaths {
  /** The drop-in directory (default /etc/sudoers.d). */
  dir: string;
  /** The main file that must include `dir` (default /etc/sudoers). */
  mainFile: string;
}

export const defaultSudoersPaths: SudoersPaths = { dir: '/etc/sudoers.d', mainFile: '/etc/sudoers' };

/** sudo skips drop-ins whose name contains "." : the temp file is invisible until renamed. */
const fileName = (grantId: string) => `timebox-${grantId}`;
const tempName = (grantId: string) => `.timebox-${grantId}.tmp`;

function checkedId(grantId: string): string {
  try {
    assertGrantId(grantId);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  return grantId;
}

/** sudo's generalized time: yyyymmddHHMMSSZ. */
export function sudoTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:T]/g, '');
}

/** The drop-in's text; every name and command is re-screened here, whatever the caller checked. */
export function renderSudoRule(grantId: string, r: InstalledSudoRule): string {
  checkedId(grantId);
  const problems = [
    accountNameProblem(r.username),
    ...r.rule.runAs.map(runAsProblem),
    ...r.rule.commands.map(sudoCommandProblem),
  ].filter((p): p is string => p !== null);
  if (problems.length) throw invalid(`sudo rule for grant ${grantId}: ${problems.join('; ')}`);
  if (!(r.notAfter.getTime() > r.notBefore.getTime())) throw invalid('sudo rule ends before it starts');
  const runAs = r.rule.runAs.join(', ');
  const tag = r.rule.noPassword ? 'NOPASSWD: ' : '';
  return [
    `# Managed by the Timebox agent for grant ${grantId}; removed when the grant ends. Do not edit.`,
    `${r.username} ALL=(${runAs}) NOTBEFORE=${sudoTime(r.notBefore)} NOTAFTER=${sudoTime(r.notAfter)} ${tag}${r.rule.commands.join(', ')}`,
    '',
  ].join('\n');
}

function writeSynced(file: string, content: string): void {
  const fd = openSync(file, 'w', 0o440);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function visudoCheck(args: string[], what: string): Promise<void> {
  if (!findTool('visudo')) throw unsupported('sudo is not installed on this host (no visudo)');
  try {
    // Not -q: quiet mode also drops the line and column of a syntax error.
    await run('visudo', ['-c', ...args]);
  } catch (err) {
    throw invalid(`${what} refused by visudo: ${(err as Error).message.replace(/^.*?failed \(exit \d+\): /s, '')}`);
  }
}

/** Checks the rule's syntax in a private temp directory; nothing reaches sudoers.d. */
export async function validateSudoRule(grantId: string, r: InstalledSudoRule): Promise<void> {
  const text = renderSudoRule(grantId, r);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'timebox-sudoers-'));
  try {
    const file = path.join(dir, 'check');
    writeSynced(file, text);
    await visudoCheck(['-f', file], `sudo rule for grant ${grantId}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function assertIncluded(paths: SudoersPaths): Promise<void> {
  const main = await readFile(paths.mainFile, 'utf8').catch(() => '');
  const dir = paths.dir.replace(/\/+$/, '');
  // "#includedir" is the legacy spelling of the directive, not a comment.
  const re = new RegExp(`^\\s*[@#]includedir\\s+${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/?\\s*$`, 'm');
  if (!re.test(main)) throw unsupported(`${paths.mainFile} does not include ${dir}: a drop-in there would have no effect`);
}

export async function installSudoRule(paths: SudoersPaths, grantId: string, r: InstalledSudoRule): Promise<void> {
  const text = renderSudoRule(grantId, r);
  await assertIncluded(paths);
  const target = path.join(paths.dir, fileName(grantId));
  const current = await readFile(target, 'utf8').catch(() => null);
  if (current === text) return;
  const tmp = path.join(paths.dir, tempName(grantId));
  await rm(tmp, { force: true }); // a leftover from a run killed mid-install
  writeSynced(tmp, text);
  try {
    await visudoCheck(['-f', tmp], `sudo rule for grant ${grantId}`);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await rename(tmp, target);
  syncDir(paths.dir);
  try {
    await visudoCheck([], 'the sudoers configuration with the new rule');
  } catch (err) {
    await rm(target, { force: true });
    syncDir(paths.dir);
    throw err;
  }
}

export async function removeSudoRule(paths: SudoersPaths, grantId: string): Promise<void> {
  checkedId(grantId);
  await rm(path.join(paths.dir, tempName(grantId)), { force: true });
  try {
    await unlink(path.join(paths.dir, fileName(grantId)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  syncDir(paths.dir);
}

export async function sudoRuleInstalled(paths: SudoersPaths, grantId: string): Promise<boolean> {
  checkedId(grantId);
  return stat(path.join(paths.dir, fileName(grantId))).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
}
