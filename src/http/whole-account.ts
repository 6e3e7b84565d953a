/**
 * What changes a person's whole account (second factor, SSH keys) needs a session signed in as
 * that whole account: not an API token (a script's key, revocable on its own), and not a session
 * confined to one tenant by single sign-on. That tenant's identity provider vouches for the person
 * inside that tenant only; letting it enrol an authenticator app or remove keys would let one
 * tenant's administrators lock the person out everywhere. (Joining another tenant is refused to
 * such a session in invitations.ts.)
 */
import { forbidden } from '../core/errors.js';
import type { Principal } from '../auth/tokens.js';

/** `doing`: what the caller tried, as the start of a sentence ("Managing an authenticator app"). */
export function assertWholeAccount(p: Principal, doing: string): void {
  if (p.kind !== 'session') throw forbidden(`${doing} needs a signed-in session, not an API token`);
  assertNotConfinedToOneTenant(p, doing);
}

/** The single sign-on half of assertWholeAccount, where an API token may act (it is the person's own). */
export function assertNotConfinedToOneTenant(p: Principal, doing: string): void {
  if (p.ssoTenantId !== null) {
    throw forbidden(
      `${doing} concerns your whole Timebox account, but this session signed in through single sign-on reaches one tenant only; do it from a session signed in with your password`,
    );
  }
}
