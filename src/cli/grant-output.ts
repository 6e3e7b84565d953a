/**
 * What `request`, `jit-accounts enable` and `grants ...` print about a grant, including the one
 * place a generated password is ever shown.
 */
import { chmod, writeFile } from 'node:fs/promises';
import type { ConnectInfo, Credential, Grant, GrantState } from '../api/types.js';
import type { Ctx } from './context.js';
import { formatDuration } from './duration.js';
import { ExitCode } from './exit-codes.js';
import { clean, keyValues, note, print, printJson, relative, when } from './output.js';
import { promptHidden } from './prompt.js';
import { needsCode, totpArg } from './totp.js';

// 'revoking' right after a request: the activation failed and what it did is being taken back.
const failedStates = new Set<GrantState>(['revoking', 'revoked', 'revoke_failed', 'expired', 'cancelled', 'denied', 'failed']);

export async function revealCredential(ctx: Ctx, grantId: string, totp?: string): Promise<Credential> {
  return ctx.api.call('revealCredential', { params: { tenant: await ctx.tenant(), grantId }, body: totp !== undefined ? { totp } : {} });
}

/** `2026-03-01 09:00 UTC (in 1h59m)`, and the local time when the terminal's time zone is another one. */
export function endTime(iso: string): string {
  const d = new Date(iso);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  let local = '';
  if (zone && zone !== 'UTC' && zone !== 'Etc/UTC') {
    const text = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' })
      .format(d)
      .replace(',', '');
    local = `; ${text} here`;
  }
  return `${when(iso)} (${relative(iso)})${local}`;
}

/** Where and how to connect (from the server's `connect` field): printed after the credential. */
export function printConnect(connect: ConnectInfo): void {
  const where: [string, unknown][] = [];
  if (connect.host) where.push(['host', connect.port ? `${connect.host}:${connect.port}` : connect.host]);
  if (connect.database) where.push(['database', connect.database]);
  if (connect.domain) where.push(['domain', connect.domain]);
  for (const [k, v] of where) print(`  ${`${k}:`.padEnd(9)} ${clean(v)}`);
  if (connect.command) print(`  connect:  ${clean(connect.command)}`);
}

/** The credential, once: the server forgets the password as it hands it over. */
export function printCredential(credential: Credential, grant?: Grant): void {
  const until = credential.connect?.endsAt ?? credential.expiresAt ?? grant?.expiresAt ?? null;
  const issued = credential.certificate ?? credential.token;
  print(`  username: ${clean(credential.username)}`);
  if (!issued || credential.password) {
    print(`  password: ${credential.password ?? '(none: this target does not use a generated password)'}`);
  }
  if (credential.connect) printConnect(credential.connect);
  print(`  until:    ${until ? endTime(until) : '-'}`);
  if (credential.password) print('This password is shown only this once; Timebox does not keep it. Copy it now.');
  // Certificates, keys and tokens are printed whole (not cleaned): they are meant to be copied.
  if (credential.certificate) print(`certificate:\n${credential.certificate.trim()}`);
  if (credential.token) print(`token:\n${credential.token}`);
  if (credential.privateKey) print(`private key (generated for you; Timebox keeps no copy):\n${credential.privateKey.trim()}`);
  if (issued) print('This is shown only this once. Copy it now.');
}

/**
 * `--out FILE`: the certificate or token goes to FILE and a generated private key to FILE.key,
 * both 0600. Returns what was written; a file that cannot be written is reported and its content
 * printed instead, so the one-time credential is never lost.
 */
export async function saveCredential(credential: Credential, out: string): Promise<Credential> {
  const files: Array<[keyof Credential, string]> = [
    [credential.certificate !== undefined ? 'certificate' : 'token', out],
    ['privateKey', `${out}.key`],
  ];
  const rest: Credential = { ...credential };
  for (const [field, file] of files) {
    const content = credential[field];
    if (typeof content !== 'string') continue;
    try {
      await writeFile(file, `${content.trim()}\n`, { mode: 0o600 });
      await chmod(file, 0o600); // the file may have existed with a wider mode
      delete rest[field];
      print(`${field === 'privateKey' ? 'private key' : field} written to ${file} (mode 0600)`);
    } catch (err) {
      note(`timebox: could not write ${file}: ${err instanceof Error ? err.message : String(err)}; printing it instead`);
    }
  }
  return rest;
}

/**
 * The credential of an active grant, asking for an authenticator code when the policy wants one
 * to show it (the code used for the request cannot be used again: the app's next one is needed).
 * Null when a code is needed and there is no terminal to ask on: the credential stays on the
 * server and `grants credential --totp` shows it.
 */
async function credentialOf(ctx: Ctx, grant: Grant, totp: string | undefined): Promise<Credential | null> {
  if (grant.state !== 'active' || !grant.credentialAvailable) return null;
  try {
    return await revealCredential(ctx, grant.id, totp);
  } catch (err) {
    if (!needsCode(err) || totp !== undefined) throw err;
    if (!process.stdin.isTTY) return null;
    return revealCredential(ctx, grant.id, totpArg(await promptHidden('This policy asks for a code to show the password; the next code from your authenticator app: ')));
  }
}

/** The person's other active grants on the same account, by id (they share its password). */
async function otherLiveGrantsOn(ctx: Ctx, grant: Grant): Promise<string[]> {
  try {
    const { items } = await ctx.api.call('listGrants', { params: { tenant: await ctx.tenant() }, query: { mine: 'true', state: 'active', targetId: grant.targetId, limit: 50 } });
    return items.filter((g) => g.id !== grant.id && g.username === grant.username).map((g) => g.id);
  } catch {
    return []; // a hint only: never fail the request's output for it
  }
}

/**
 * After a request (or "enable again"): show the password when the grant is already active,
 * otherwise what happens next. A grant that failed to activate sets exit code 1. `revealTotp`:
 * a code for showing the password (`grants wait --totp`).
 */
export async function finishGrant(ctx: Ctx, grant: Grant, opts: { out?: string; revealTotp?: string } = {}): Promise<void> {
  let credential = await credentialOf(ctx, grant, opts.revealTotp);
  if (credential && opts.out !== undefined) credential = await saveCredential(credential, opts.out);
  const failed = failedStates.has(grant.state);
  if (failed) process.exitCode = ExitCode.failure;
  if (ctx.json) return printJson({ grant, credential });

  const what = `${clean(grant.targetName)}: ${grant.entitlements.map(clean).join(', ')}`;
  if (credential) {
    print(`Access granted on ${what} for ${formatDuration(grant.durationSeconds)} (grant ${grant.id})`);
    printCredential(credential, grant);
    const others = credential.password ? await otherLiveGrantsOn(ctx, grant) : [];
    if (others.length) note(`timebox: this password replaces the one shown for your other active grant on this account (${others.join(', ')}): use this one from now on`);
  } else if (grant.state === 'active') {
    print(`Access granted on ${what} as ${clean(grant.username)} until ${when(grant.expiresAt)} (grant ${grant.id})`);
    if (grant.gatewayOnly) print(`This policy never shows the password: connect with timebox ssh ${clean(grant.targetName)}`);
    if (grant.credentialAvailable) {
      print('This policy asks for a fresh code from your authenticator app to show the password (the one used to ask cannot be used twice).');
      print(`Show it with: timebox grants credential ${grant.id} --totp CODE`);
    }
  } else if (grant.state === 'requested') {
    print(`Requested ${what} for ${formatDuration(grant.durationSeconds)} (grant ${grant.id}); waiting for approval.`);
    print('Next: an approver approves or denies it (timebox approvals list, or Approvals in the dashboard).');
    print(`Wait for the decision and get the password here: timebox grants wait ${grant.id}`);
  } else if (grant.state === 'approved' || grant.state === 'activating') {
    const start = grant.requestedStartAt ? ` at ${when(grant.requestedStartAt)}` : ' shortly';
    print(`Grant ${grant.id} on ${what} is ${grant.state}; access starts${start}.`);
    if (grant.lastError) print(`Last attempt failed (Timebox keeps retrying): ${clean(grant.lastError)}`);
    print(`Once it is active, see the password with: timebox grants credential ${grant.id} (or wait for it: timebox grants wait ${grant.id})`);
  } else {
    print(`Grant ${grant.id} on ${what} is ${grant.state}.`);
  }
  if (failed) note(`timebox: access was not granted: ${clean(grant.lastError ?? grant.endReason ?? grant.state)}`);
}

export function printGrant(g: Grant): void {
  keyValues([
    ['grant', g.id],
    ['state', g.state],
    ['target', `${g.targetName} (${g.targetId})`],
    ['entitlements', g.entitlements.join(', ')],
    ['account', g.username],
    ['requested by', g.operatorEmail],
    ['reason', g.reason],
    ['duration', formatDuration(g.durationSeconds)],
    ['requested at', when(g.createdAt)],
    ['start wanted', when(g.requestedStartAt)],
    ['started', when(g.startsAt)],
    // An ended grant's planned end is history: no countdown to a time that no longer applies.
    ['expires', g.expiresAt ? (g.revokedAt ? `${when(g.expiresAt)} (planned)` : `${when(g.expiresAt)} (${relative(g.expiresAt)})`) : '-'],
    ['ended', when(g.revokedAt)],
    ['end reason', g.endReason],
    ['last error', g.lastError],
    ['revoke tries', g.revokeAttempts],
    ['password', g.credentialAvailable ? 'not yet shown (timebox grants credential)' : '-'],
  ]);
}
