/**
 * deleteAfterIdleDays: JIT accounts that stayed disabled and expired that long are deleted, so a
 * person who stopped needing access leaves no dormant privileged account behind. A later grant
 * simply creates the account again (with a new SID). Runs after a full revoke; never fails it.
 */
import type { Logger } from 'pino';
import type { ActiveDirectoryConfig } from './config.js';
import { JIT_MARKER, UAC_ACCOUNTDISABLE, toFileTime } from './directory.js';
import { escapeFilterValue } from './escape.js';
import { readMarker } from '../../core/account-ownership.js';
import { type Session, text } from './session.js';

const DAY_MS = 86_400_000;
const MAX_PER_SWEEP = 50; // bounded, so one revoke never turns into a long bulk job

/**
 * `revokedMarker`: the marker of the account whose revoke runs the sweep. Only accounts marked by
 * the same installation are swept: another Timebox deployment (or one that predates installation
 * ids) sharing the JIT OU keeps its accounts. An account without an installation id sweeps those
 * without one, as before.
 */
export async function sweepIdleAccounts(s: Session, config: ActiveDirectoryConfig, log: Logger, revokedMarker: string | null): Promise<number> {
  if (!config.deleteAfterIdleDays) return 0;
  const marker = readMarker(JIT_MARKER, revokedMarker);
  if (marker.kind === 'none') return 0;
  const cutoff = toFileTime(new Date(Date.now() - config.deleteAfterIdleDays * DAY_MS));
  const ours = marker.kind === 'owner' ? `${JIT_MARKER} ${marker.installationId}/` : JIT_MARKER;
  let deleted = 0;
  try {
    const idle = await s.search('looking for idle JIT accounts', config.jitOu, {
      scope: 'one',
      filter:
        `(&(objectClass=user)(description=${escapeFilterValue(ours)}*)` +
        `(userAccountControl:1.2.840.113556.1.4.803:=${UAC_ACCOUNTDISABLE})` +
        `(accountExpires>=1)(accountExpires<=${cutoff}))`,
      attributes: ['sAMAccountName', 'description'],
    });
    // Without an installation id, the filter's prefix also matches those that have one: skip them.
    const sweepable = marker.kind === 'owner' ? idle : idle.filter((e) => readMarker(JIT_MARKER, text(e, 'description')).kind !== 'owner');
    for (const entry of sweepable.slice(0, MAX_PER_SWEEP)) {
      await s.step(`deleting the idle JIT account ${entry.dn}`, (c) => c.del(entry.dn));
      deleted++;
      log.info({ dn: entry.dn, idleDays: config.deleteAfterIdleDays }, 'deleted idle Active Directory JIT account');
    }
  } catch (err) {
    log.warn({ err: (err as Error).message, deleted }, 'could not delete idle Active Directory JIT accounts');
  }
  return deleted;
}
