/**
 * An in-memory target (kind 'fake') for unit tests of the core and for benchmarks.
 *
 * NOT a substitute for tests against real targets: it shows that the core uses the contract
 * correctly, never that a real system behaves like this. Every real connector must also pass the
 * conformance suite against the real software.
 *
 * State lives in a module-level map keyed by `config.instance`, so a test can look inside
 * (`fakeTargetState`) and change failure injection while the core is running.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { type AccountOwner, type AccountStatus, ownerTag, ownershipOf } from '../../core/account-ownership.js';
import { TargetError, invalid, refused } from '../../core/errors.js';
import { type Finding, expiryFinding, findings as finding } from '../../core/findings.js';
import type { ConnectorContext, ConnectorDefinition, ConnectorInstance, RevokeSpec, VerifyResult } from '../contract.js';

const failure = z.enum(['transient', 'permanent']).optional();

export const fakeConfigSchema = z.strictObject({
  /** Which in-memory target; tests use a unique one each. */
  instance: z.string().min(1).default('default'),
  /** Entitlements that exist on the target. */
  entitlements: z.array(z.string()).default(['readers', 'writers']),
  failGrant: failure,
  failRevoke: failure,
  failVerify: failure,
  /** A target that answers a revoke with success and changes nothing (what peers trusted). */
  silentRevoke: z.boolean().optional(),
  /** Fail only this many calls, then succeed (all calls when absent). */
  failTimes: z.number().int().nonnegative().optional(),
  latencyMs: z.number().int().nonnegative().optional(),
});
export type FakeConfig = z.output<typeof fakeConfigSchema>;

export interface FakeAccount {
  enabled: boolean;
  /** false for accounts Timebox did not create; it must refuse to touch them. */
  managed: boolean;
  /** The ownership marker of a managed account (`Timebox JIT account <installation>/<account>`). */
  marker?: string;
  entitlements: Set<string>;
  password: string;
  validUntil: Date;
  /** Live sessions; revocation ends them. */
  sessions: number;
}

type Failure = 'transient' | 'permanent' | undefined;

export interface FakeTargetState {
  entitlements: Set<string>;
  accounts: Map<string, FakeAccount>;
  failGrant: Failure;
  failRevoke: Failure;
  failVerify: Failure;
  silentRevoke: boolean;
  failTimes: number | undefined;
  latencyMs: number;
  calls: { grant: number; revoke: number; verify: number };
}

const targets = new Map<string, FakeTargetState>();

/** The live state of one fake target (created empty on first use). */
export function fakeTargetState(instance = 'default'): FakeTargetState {
  let state = targets.get(instance);
  if (!state) {
    state = {
      entitlements: new Set(),
      accounts: new Map(),
      failGrant: undefined,
      failRevoke: undefined,
      failVerify: undefined,
      silentRevoke: false,
      failTimes: undefined,
      latencyMs: 0,
      calls: { grant: 0, revoke: 0, verify: 0 },
    };
    targets.set(instance, state);
  }
  return state;
}

export function resetFakeTargets(): void {
  targets.clear();
}

/** A login attempt as the target would judge it; a success opens a session. */
export function fakeLogin(instance: string, username: string, password: string, now = new Date()): boolean {
  const acct = fakeTargetState(instance).accounts.get(username);
  const ok = !!acct && acct.enabled && acct.password === password && acct.validUntil > now;
  if (ok) acct.sessions++;
  return ok;
}

const validateAccountName = (name: string) =>
  /^[a-z][a-z0-9_]{2,62}$/.test(name)
    ? null
    : `Account names must be 3 to 63 lowercase letters, digits or underscores, starting with a letter (got ${JSON.stringify(name)})`;
const validateEntitlementName = (name: string) =>
  /^[A-Za-z0-9_.-]{1,63}$/.test(name) ? null : `Entitlement names may only contain letters, digits, _ . - (got ${JSON.stringify(name)})`;

const MARKER = 'Timebox JIT account';
const statusOf = (acct: FakeAccount, owner: AccountOwner): AccountStatus =>
  acct.managed ? ownershipOf(MARKER, acct.marker ?? MARKER, owner) : { status: 'foreign', reason: 'not_timebox' };

function createInstance(rawConfig: FakeConfig): ConnectorInstance {
  const config = fakeConfigSchema.parse(rawConfig);
  const state = fakeTargetState(config.instance);
  for (const e of config.entitlements) state.entitlements.add(e);
  // Only what the config sets: a test may have set failures on the state before the core
  // created (or re-created) this instance, and those must survive.
  for (const key of ['failGrant', 'failRevoke', 'failVerify', 'silentRevoke', 'failTimes', 'latencyMs'] as const) {
    if (config[key] !== undefined) Object.assign(state, { [key]: config[key] });
  }

  async function enter(ctx: ConnectorContext, op: 'grant' | 'revoke' | 'verify') {
    state.calls[op]++;
    if (state.latencyMs > 0) await sleep(state.latencyMs, undefined, { signal: ctx.signal });
    const fail = { grant: state.failGrant, revoke: state.failRevoke, verify: state.failVerify }[op];
    if (!fail) return;
    if (state.failTimes !== undefined) {
      if (state.failTimes <= 0) return;
      state.failTimes--;
    }
    throw new TargetError(fail, `fake target: injected ${fail} failure on ${op}`);
  }

  const account = (handle: Record<string, unknown>) => {
    const username = String(handle.username);
    const entitlements = Array.isArray(handle.entitlements) ? handle.entitlements.map(String) : [];
    return { username, entitlements, acct: state.accounts.get(username) };
  };

  const revokedPart = (spec: RevokeSpec, entitlements: string[]) => entitlements.filter((e) => !spec.retain.includes(e));
  /** What a revoke takes: the handle's (not retained); with a sweep, everything not retained. */
  const toTake = (spec: RevokeSpec, entitlements: string[], acct: FakeAccount) =>
    spec.sweep || spec.accountStillNeededUntil === null
      ? [...acct.entitlements].filter((e) => !spec.retain.includes(e)).sort()
      : revokedPart(spec, entitlements).filter((e) => acct.entitlements.has(e));

  return {
    async check() {
      return { ok: true, items: [{ name: 'connection', ok: true, message: 'in-memory fake target' }] };
    },
    async listEntitlements(_ctx, q) {
      const all = [...state.entitlements]
        .filter((e) => !q.search || e.toLowerCase().includes(q.search.toLowerCase()))
        .filter((e) => !q.cursor || e > q.cursor)
        .sort();
      const page = all.slice(0, q.limit);
      return {
        items: page.map((e) => ({ externalId: e, displayName: e })),
        nextCursor: all.length > q.limit ? (page.at(-1) ?? null) : null,
      };
    },
    async grant(ctx, spec) {
      await enter(ctx, 'grant');
      const { username } = spec.account;
      const bad = validateAccountName(username) ?? spec.entitlements.map(validateEntitlementName).find(Boolean);
      if (bad) throw invalid(bad);
      const missing = spec.entitlements.filter((e) => !state.entitlements.has(e));
      if (missing.length) throw invalid(`entitlement(s) ${missing.join(', ')} do not exist on the target`);
      const existing = state.accounts.get(username);
      if (existing && !existing.managed) throw refused('account_foreign', `account ${username} already exists and is not a Timebox JIT account`);
      const owner = spec.account.owner;
      if (existing && owner && statusOf(existing, owner).status !== 'owned') {
        throw refused('account_foreign', `account ${username} belongs to another JIT account`);
      }
      const acct = existing ?? { enabled: true, managed: true, entitlements: new Set<string>(), password: '', validUntil: new Date(0), sessions: 0 };
      acct.marker = owner ? ownerTag(MARKER, owner) : MARKER;
      acct.enabled = true;
      acct.password = spec.password;
      acct.validUntil = spec.accountNotAfter;
      for (const e of spec.entitlements) acct.entitlements.add(e);
      state.accounts.set(username, acct);
      return { handle: { username, entitlements: [...new Set(spec.entitlements)] }, credential: { username, password: spec.password } };
    },
    async revoke(ctx, spec) {
      await enter(ctx, 'revoke');
      if (state.silentRevoke) return;
      const { entitlements, acct, username } = account(spec.handle);
      if (!acct) return;
      if (!acct.managed) throw invalid(`account ${username} is not a Timebox JIT account`);
      for (const e of toTake(spec, entitlements, acct)) acct.entitlements.delete(e);
      if (spec.accountStillNeededUntil === null) {
        acct.enabled = false;
        acct.password = spec.rotatePassword;
        acct.validUntil = new Date(0);
      } else {
        acct.validUntil = spec.accountStillNeededUntil;
      }
      acct.sessions = 0;
    },
    async verify(ctx, spec): Promise<VerifyResult> {
      await enter(ctx, 'verify');
      const { entitlements, acct, username } = account(spec.handle);
      if (!acct) return { state: 'absent', findings: [] };
      const toRevoke = revokedPart(spec, entitlements);
      const held = toRevoke.filter((e) => acct.entitlements.has(e));
      const findings: Finding[] = toTake(spec, entitlements, acct).map(finding.entitlement);
      const disable = spec.accountStillNeededUntil === null;
      if (disable && acct.enabled) findings.push(finding.login(username));
      if (disable && acct.sessions > 0) findings.push(finding.sessions(username, acct.sessions));
      if (!disable && spec.sweep) {
        const later = expiryFinding(username, spec.accountStillNeededUntil!, acct.validUntil);
        if (later) findings.push(later);
      }
      if (findings.length === 0) return { state: 'absent', findings };
      const nothingRevoked = held.length === toRevoke.length && (!disable || acct.enabled);
      return { state: nothingRevoked ? 'present' : 'drifted', findings };
    },
    async extend(_ctx, handle, until) {
      const { acct, username } = account(handle);
      if (!acct) throw invalid(`account ${username} does not exist`);
      acct.validUntil = until;
    },
    async accountStatus(_ctx, name, owner) {
      const acct = state.accounts.get(name);
      return acct ? statusOf(acct, owner) : { status: 'free' };
    },
    async entitlementExists(_ctx, name) {
      return state.entitlements.has(name);
    },
    async rotate(_ctx, handle, password, owner) {
      const { acct, username } = account(handle);
      if (!acct) throw invalid(`account ${username} does not exist`);
      if (owner && statusOf(acct, owner).status !== 'owned') throw refused('account_foreign', `account ${username} belongs to another JIT account`);
      acct.password = password;
    },
    async deleteAccount(_ctx, username, _handle, owner) {
      const acct = state.accounts.get(username);
      if (!acct) return;
      if (!acct.managed) throw invalid(`account ${username} was not created by Timebox`);
      if (owner && statusOf(acct, owner).status !== 'owned') throw refused('account_foreign', `account ${username} belongs to another JIT account`);
      state.accounts.delete(username);
    },
    async close() {},
  };
}

export const fakeConnector: ConnectorDefinition<FakeConfig, 'fake'> = {
  kind: 'fake',
  label: 'In-memory test target',
  help: 'For tests only: accounts live in the server’s memory.',
  configSchema: fakeConfigSchema,
  accountNameRules: {
    minLength: 3,
    maxLength: 63,
    pattern: '^[a-z][a-z0-9_]*$',
    reserved: [],
    reservedPrefixes: [],
    hint: '3 to 63 lowercase letters, digits and underscores, starting with a letter.',
  },
  capabilities: { nativeExpiry: true, endsSessions: true, canRotate: true, jitAccounts: true, liveDrift: true },
  validateAccountName,
  validateEntitlementName,
  passwordPolicy: { length: 24 },
  create: createInstance,
};
