/**
 * What the enforcer needs from an operating system, in host-neutral terms, so a Windows
 * implementation (net user / local groups / logoff) can come later without touching the enforcer.
 *
 * Contract for implementations:
 * - every method validates its names itself (defence in depth) and throws TargetError `invalid`
 *   for bad input, `permanent` for refusals (system account, not ours), `transient` otherwise;
 * - mutating methods are idempotent where the enforcer relies on it (lock a locked account, remove
 *   an absent rule) so a restart after kill -9 can simply run the same steps again;
 * - secrets (passwords) never appear in thrown messages or logs.
 */
import type { LocalRole, SudoRule } from '../../agent-wire/protocol.js';

export interface AccountInfo {
  username: string;
  uid: number;
  /** GECOS comment: the agent tags accounts it creates, and only deletes tagged ones. */
  comment: string;
  /** Below the host's first regular id (Linux: UID_MIN, 1000): never created, changed or deleted. */
  system: boolean;
  /** Password login disabled (Linux: "!" before the hash). */
  locked: boolean;
  /** Start of the day from which the account is expired, or null (day resolution on Linux). */
  expiresAt: Date | null;
  /** Supplementary groups. */
  groups: string[];
}

export interface InstalledSudoRule {
  username: string;
  rule: SudoRule;
  /** Written into the rule as sudo's own NOTBEFORE/NOTAFTER: a backstop if the agent is gone. */
  notBefore: Date;
  notAfter: Date;
}

export interface HostOperations {
  readonly platform: string;
  getAccount(username: string): Promise<AccountInfo | null>;
  /** True when a group of this name exists (user-private groups included: name clashes). */
  groupExists(group: string): Promise<boolean>;
  /** Creates a regular account that cannot log in yet (locked and expired), tagged with `comment`. */
  createDisabledAccount(username: string, comment: string): Promise<void>;
  /** Sets the password and keeps the account locked if it was locked. */
  setPassword(username: string, password: string): Promise<void>;
  lockAccount(username: string): Promise<void>;
  unlockAccount(username: string): Promise<void>;
  /** Account expiry (day resolution on Linux: from the start of the UTC day after `at`); null clears it. */
  setAccountExpiry(username: string, at: Date | 'expired' | null): Promise<void>;
  /** Deletes the account and its home; refuses system accounts and accounts without `requiredComment`. */
  deleteAccount(username: string, requiredComment: string): Promise<void>;
  addToGroup(username: string, group: string): Promise<void>;
  removeFromGroup(username: string, group: string): Promise<void>;
  groupMembers(group: string): Promise<string[]>;
  /** Local groups a role maps to; throws `invalid` when the host has no group for it. */
  roleGroups(role: LocalRole): Promise<string[]>;
  /** Checks a rule against the host's sudoers grammar without installing anything. */
  validateSudoRule(grantId: string, rule: InstalledSudoRule): Promise<void>;
  installSudoRule(grantId: string, rule: InstalledSudoRule): Promise<void>;
  removeSudoRule(grantId: string): Promise<void>;
  sudoRuleInstalled(grantId: string): Promise<boolean>;
  /** Ends the user's sessions and kills every process they run or started (sudo children too). */
  terminateUserProcesses(username: string): Promise<void>;
  /** Live (non-zombie) processes owned or started by the user: what verification looks for. */
  userProcesses(username: string): Promise<number[]>;
}
