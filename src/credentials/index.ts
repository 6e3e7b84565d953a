/**
 * The credential engines wired together: one call for the server (and tests) to get them all.
 * Each engine is usable alone; see docs/credentials.md and docs/targets/ssh-certificates.md.
 */
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import { createCaStore } from './ca-store.js';
import { createCrl } from './crl.js';
import { createIssuedCredentials } from './issued.js';
import { createKrl } from './krl.js';
import { createSecurityTokens } from './security-tokens.js';
import { createSshCertificates } from './ssh-certificates.js';
import type { TrustChangeHook } from './trust-signal.js';
import { createX509Certificates } from './x509-certificates.js';

export interface CredentialEnginesDeps {
  db: Kysely<Database>;
  box: SecretBox;
  clock: Clock;
  audit: AuditLog;
  /** `iss` of security tokens (e.g. the server's public URL). */
  tokenIssuer: string | ((tenantId: string) => string);
  /** Lifetime of each CRL (default 3600 s). */
  crlNextUpdateSeconds?: number;
  /** Where ssh-keygen scratch directories go (default /dev/shm, else the OS temp dir). */
  scratchRoot?: string;
  /** Told when what relying parties must trust or refuse changes (CA created, rotated, retired; early revocation). */
  onTrustChange?: TrustChangeHook;
}

export function createCredentialEngines(deps: CredentialEnginesDeps) {
  const scratch = deps.scratchRoot ? { scratchRoot: deps.scratchRoot } : {};
  const signal = deps.onTrustChange ? { onTrustChange: deps.onTrustChange } : {};
  const cas = createCaStore({ db: deps.db, box: deps.box, clock: deps.clock, audit: deps.audit, ...scratch, ...signal });
  const issued = createIssuedCredentials({ db: deps.db, clock: deps.clock, audit: deps.audit, ...signal });
  const krl = createKrl({ cas, issued, clock: deps.clock, ...scratch });
  const crl = createCrl({
    cas,
    issued,
    clock: deps.clock,
    ...(deps.crlNextUpdateSeconds ? { nextUpdateSeconds: deps.crlNextUpdateSeconds } : {}),
  });
  return {
    cas,
    issued,
    krl,
    crl,
    ssh: createSshCertificates({ cas, issued, krl, clock: deps.clock, ...scratch }),
    x509: createX509Certificates({ cas, issued, crl, clock: deps.clock }),
    tokens: createSecurityTokens({ cas, issued, clock: deps.clock, issuer: deps.tokenIssuer }),
  };
}

export type CredentialEngines = ReturnType<typeof createCredentialEngines>;
export type { Actor, CaInfo, CaKind, IssuedCredential, PublishedCa, RevocationReason } from './types.js';
export type { TrustChange, TrustChangeHook } from './trust-signal.js';
