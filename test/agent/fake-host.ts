/**
 * An in-memory HostOperations for the enforcer's scheduling logic (times, order, crash records,
 * fail-closed paths) under a fake clock. Semantics mirror LinuxHost where the enforcer relies on
 * them (idempotent steps, tagged deletion, lock kept by setPassword); the real tools are tested
 * against LinuxHost in the namespace tests.
 */
import { invalid, permanent, transient } from '../../src/core/errors.js';
import type { AccountInfo, HostOperations, InstalledSudoRule } from '../../src/agent/host/host-operations.js';
import { accountNameProblem } from '../../src/agent-wire/names.js';
import type { LocalRole } from '../../src/agent-wire/protocol.js';

interface FakeAccount {
  uid: number;
  comment: string;
  locked: boolean;
  expiresAt: Date | null;
  password: string | null;
}

export class FakeHost implements HostOperations {
  readonly platform = 'fake';
  readonly accounts = new Map<string, FakeAccount>();
  readonly groups = new Map<string, Set<string>>([['sudo', new Set()], ['users', new Set()]]);
  readonly rules = new Map<string, InstalledSudoRule>();
  readonly processes = new Map<string, number>();
  readonly calls: string[] = [];
  /** Makes the next calls of `method` throw `error` (count times). */
  private failures = new Map<string, { error: Error; count: number }>();
  private nextUid = 1000;
  /** Called on every operation (e.g. to move a fake clock while a step "takes time"). */
  onCall: (method: string) => void = () => {};

  constructor() {
    this.accounts.set('daemon', { uid: 1, comment: 'daemon', locked: true, expiresAt: null, password: null });
  }

  failNext(method: keyof HostOperations, error: Error, count = 1): void {
    this.failures.set(method, { error, count });
  }

  private enter(method: string, name?: string, what = 'user name'): void {
    this.calls.push(method);
    this.onCall(method);
    const f = this.failures.get(method);
    if (f && f.count > 0) {
      f.count--;
      throw f.error;
    }
    if (name !== undefined) {
      const p = accountNameProblem(name, what);
      if (p) throw invalid(p);
    }
  }

  private regular(username: string): FakeAccount {
    const a = this.accounts.get(username);
    if (!a) throw invalid(`user ${username} does not exist on this host`);
    if (a.uid < 1000) throw permanent(`user ${username} is a system account`);
    return a;
  }

  addUser(username: string, groups: string[] = []): void {
    this.accounts.set(username, { uid: this.nextUid++, comment: '', locked: false, expiresAt: null, password: 'own' });
    for (const g of groups) this.groups.get(g)!.add(username);
  }

  async getAccount(username: string): Promise<AccountInfo | null> {
    this.enter('getAccount', username);
    const a = this.accounts.get(username);
    if (!a) return null;
    const groups = [...this.groups].filter(([, m]) => m.has(username)).map(([g]) => g);
    return { username, uid: a.uid, comment: a.comment, system: a.uid < 1000, locked: a.locked, expiresAt: a.expiresAt, groups };
  }

  async groupExists(group: string): Promise<boolean> {
    this.enter('groupExists', group, 'group name');
    return this.groups.has(group) || this.accounts.has(group);
  }

  async createDisabledAccount(username: string, comment: string): Promise<void> {
    this.enter('createDisabledAccount', username);
    const a = this.accounts.get(username);
    if (a && a.comment !== comment) throw permanent(`user ${username} already exists`);
    if (!a) this.accounts.set(username, { uid: this.nextUid++, comment, locked: true, expiresAt: new Date(86_400_000), password: null });
  }

  async setPassword(username: string, password: string): Promise<void> {
    this.enter('setPassword', username);
    this.regular(username).password = password;
  }

  async lockAccount(username: string): Promise<void> {
    this.enter('lockAccount', username);
    this.regular(username).locked = true;
  }

  async unlockAccount(username: string): Promise<void> {
    this.enter('unlockAccount', username);
    const a = this.regular(username);
    if (!a.password) throw permanent(`user ${username} has no password to unlock`);
    a.locked = false;
  }

  async setAccountExpiry(username: string, at: Date | 'expired' | null): Promise<void> {
    this.enter('setAccountExpiry', username);
    const day = 86_400_000;
    this.regular(username).expiresAt = at === null ? null : at === 'expired' ? new Date(day) : new Date((Math.floor(at.getTime() / day) + 1) * day);
  }

  async deleteAccount(username: string, requiredComment: string): Promise<void> {
    this.enter('deleteAccount', username);
    const a = this.accounts.get(username);
    if (!a) return;
    if (a.comment !== requiredComment) throw permanent(`user ${username} was not created by this grant`);
    this.accounts.delete(username);
    for (const m of this.groups.values()) m.delete(username);
  }

  async addToGroup(username: string, group: string): Promise<void> {
    this.enter('addToGroup', group, 'group name');
    this.regular(username);
    const m = this.groups.get(group);
    if (!m) throw invalid(`group ${group} does not exist on this host`);
    m.add(username);
  }

  async removeFromGroup(username: string, group: string): Promise<void> {
    this.enter('removeFromGroup', group, 'group name');
    this.groups.get(group)?.delete(username);
  }

  async groupMembers(group: string): Promise<string[]> {
    this.enter('groupMembers', group, 'group name');
    const m = this.groups.get(group);
    if (!m) throw invalid(`group ${group} does not exist on this host`);
    return [...m];
  }

  async roleGroups(role: LocalRole): Promise<string[]> {
    this.enter('roleGroups');
    return role === 'administrators' ? ['sudo'] : role === 'power-users' ? ['users'] : [];
  }

  async validateSudoRule(): Promise<void> {
    this.enter('validateSudoRule');
  }

  async installSudoRule(grantId: string, rule: InstalledSudoRule): Promise<void> {
    this.enter('installSudoRule');
    this.rules.set(grantId, rule);
  }

  async removeSudoRule(grantId: string): Promise<void> {
    this.enter('removeSudoRule');
    this.rules.delete(grantId);
  }

  async sudoRuleInstalled(grantId: string): Promise<boolean> {
    this.enter('sudoRuleInstalled');
    return this.rules.has(grantId);
  }

  async terminateUserProcesses(username: string): Promise<void> {
    this.enter('terminateUserProcesses', username);
    this.processes.delete(username);
  }

  async userProcesses(username: string): Promise<number[]> {
    this.enter('userProcesses', username);
    return Array.from({ length: this.processes.get(username) ?? 0 }, (_, i) => 100 + i);
  }
}

export const boom = (msg = 'disk on fire') => transient(msg);
