/**
 * OpenSSH Key Revocation Lists (the `RevokedKeys` file of sshd), built by `ssh-keygen -k`.
 *
 * One KRL per tenant covers all its SSH CAs: serials revoked by published CAs, and the keys of
 * retired CAs themselves, so a host whose TrustedUserCAKeys was never refreshed still refuses
 * anything signed by a CA Timebox has stopped trusting. sshd re-reads the file on every
 * authentication, so replacing it takes effect for the next login.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import type { CaStore } from './ca-store.js';
import type { IssuedCredentials } from './issued.js';
import { sshKeygen, withPrivateDir } from './private-dir.js';

export interface KrlDeps {
  cas: CaStore;
  issued: IssuedCredentials;
  clock: Clock;
  scratchRoot?: string;
}

export type Krl = ReturnType<typeof createKrl>;

export function createKrl(deps: KrlDeps) {
  return {
    /** The tenant's current KRL (binary). Never empty: with nothing revoked it revokes nothing. */
    async build(tenantId: string): Promise<Buffer> {
      await deps.cas.retireDrained(tenantId);
      const all = await deps.cas.list(tenantId, 'ssh');
      const retired = all.filter((ca) => ca.status === 'retired');
      const withSerials: Array<{ publicKey: string; serials: string[] }> = [];
      for (const ca of all.filter((c) => c.status !== 'retired')) {
        const revoked = await deps.issued.revokedForCa(ca.id);
        if (revoked.length) withSerials.push({ publicKey: ca.publicKey, serials: revoked.map((r) => r.serial) });
      }
      // A KRL version that only grows, so hosts (and people) can tell which list is newer.
      const version = String(+deps.clock.now());

      return withPrivateDir(deps.scratchRoot, async (dir) => {
        const out = path.join(dir, 'krl');
        const keysSpec = path.join(dir, 'keys.spec');
        await writeFile(keysSpec, retired.map((ca) => `key: ${ca.publicKey}\n`).join(''), { mode: 0o600 });
        await sshKeygen(['-q', '-k', '-f', out, '-z', version, keysSpec]);
        for (const [i, ca] of withSerials.entries()) {
          const caFile = path.join(dir, `ca${i}.pub`);
          const spec = path.join(dir, `serials${i}.spec`);
          await writeFile(caFile, `${ca.publicKey}\n`, { mode: 0o600 });
          await writeFile(spec, ca.serials.map((s) => `serial: ${s}\n`).join(''), { mode: 0o600 });
          // -u adds to the KRL written above; -s names the CA these serials belong to.
          await sshKeygen(['-q', '-k', '-u', '-f', out, '-z', version, '-s', caFile, spec]);
        }
        return readFile(out);
      });
    },
  };
}
