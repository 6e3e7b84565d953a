/**
 * HostOperations for Linux with shadow-utils, sudo and procfs. The agent runs as root; every tool
 * is run by absolute path with an argv array (see exec.ts).
 */
import { existsSync } from 'node:fs';
import { invalid } from '../../core/errors.js';
import type { LocalRole } from '../../agent-wire/protocol.js';
import type { AccountInfo, HostOperations, InstalledSudoRule } from './host-operations.js';
import * as accounts from './linux-accounts.js';
import { checkName, regularAccount } from './linux-accounts.js';
import { terminateUserProcesses, userProcesses } from './linux-processes.js';
import * as sudoers from './linux-sudoers.js';

export interface LinuxHostOptions {
  /** The group the `power-users` role maps to; without it that role is refused. */
  powerUsersGroup?: string;
  /** Login shell of created accounts (default /bin/bash when present, else /bin/sh). */
  shell?: string;
  sudoers?: sudoers.SudoersPaths;
}

export class LinuxHost implements HostOperations {
  readonly platform = 'linux';
  private readonly shell: string;
  private readonly sudoersPaths: sudoers.SudoersPaths;

  constructor(private readonly opts: LinuxHostOptions = {}) {
    if (opts.powerUsersGroup !== undefined) checkName(opts.powerUsersGroup, 'power-users group');
    this.shell = opts.shell ?? (existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh');
    if (!/^\/[A-Za-z0-9/_.-]+$/.test(this.shell)) throw invalid(`shell ${JSON.stringify(this.shell)} is not an absolute path`);
    this.sudoersPaths = opts.sudoers ?? sudoers.defaultSudoersPaths;
  }

  getAccount(username: string): Promise<AccountInfo | null> {
    return accounts.getAccount(username);
  }

  groupExists(group: string): Promise<boolean> {
    return accounts.groupExists(group);
  }

  createDisabledAccount(username: string, comment: string): Promise<void> {
    return accounts.createDisabledAccount(username, comment, this.shell);
  }

  setPassword(username: string, password: string): Promise<void> {
    return accounts.setPassword(username, password);
  }

  lockAccount(username: string): Promise<void> {
    return accounts.lockAccount(username);
  }

  unlockAccount(username: string): Promise<void> {
    return accounts.unlockAccount(username);
  }

  setAccountExpiry(username: string, at: Date | 'expired' | null): Promise<void> {
    return accounts.setAccountExpiry(username, at);
  }

  deleteAccount(username: string, requiredComment: string): Promise<void> {
    return accounts.deleteAccount(username, requiredComment);
  }

  addToGroup(username: string, group: string): Promise<void> {
    return accounts.addToGroup(username, group);
  }

  removeFromGroup(username: string, group: string): Promise<void> {
    return accounts.removeFromGroup(username, group);
  }

  groupMembers(group: string): Promise<string[]> {
    return accounts.groupMembers(group);
  }

  /** Debian and Ubuntu grant sudo to group `sudo`; Fedora, RHEL, SUSE and Arch use `wheel`. */
  async roleGroups(role: LocalRole): Promise<string[]> {
    if (role === 'users') return [];
    if (role === 'power-users') {
      const g = this.opts.powerUsersGroup;
      if (!g) throw invalid('the power-users role needs a configured power-users group on this host');
      if (!(await accounts.groupExists(g))) throw invalid(`power-users group ${g} does not exist on this host`);
      return [g];
    }
    for (const g of ['sudo', 'wheel']) if (await accounts.groupExists(g)) return [g];
    throw invalid('this host has neither a sudo nor a wheel group for the administrators role');
  }

  validateSudoRule(grantId: string, rule: InstalledSudoRule): Promise<void> {
    return sudoers.validateSudoRule(grantId, rule);
  }

  installSudoRule(grantId: string, rule: InstalledSudoRule): Promise<void> {
    return sudoers.installSudoRule(this.sudoersPaths, grantId, rule);
  }

  removeSudoRule(grantId: string): Promise<void> {
    return sudoers.removeSudoRule(this.sudoersPaths, grantId);
  }

  sudoRuleInstalled(grantId: string): Promise<boolean> {
    return sudoers.sudoRuleInstalled(this.sudoersPaths, grantId);
  }

  async terminateUserProcesses(username: string): Promise<void> {
    // A user deleted already has no processes we could attribute by name: nothing to do.
    if (!(await accounts.getAccount(username))) return;
    await regularAccount(username);
    return terminateUserProcesses(username);
  }

  async userProcesses(username: string): Promise<number[]> {
    if (!(await accounts.getAccount(username))) return [];
    return userProcesses(username);
  }
}
