/**
 * "Gateway only" (a policy's `gateway.only`): the grant's password is never shown to the person,
 * so the gateway always holds it and is the only way in. That fits targets whose password Timebox
 * generates and keeps until shown: `linux-agent` with `credentialDelivery: reveal`. E-mail delivery
 * would hand the password to the person, so it is refused when the policy is saved, and a target
 * named by such a policy cannot switch to it.
 */
import { AppError } from '../core/errors.js';
import { LINUX_AGENT_KIND } from '../connectors/linux-agent/config.js';

/** Why a target cannot be reached under "gateway only", or null. `config` is read only when needed. */
export function gatewayOnlyProblem(kind: string, config: () => unknown): string | null {
  if (kind !== LINUX_AGENT_KIND) return `"gateway only" needs a ${LINUX_AGENT_KIND} target: the gateway does not reach ${kind} targets`;
  const delivery = (config() as { credentialDelivery?: unknown }).credentialDelivery ?? 'reveal';
  if (delivery !== 'reveal') return `"gateway only" cannot be used with ${String(delivery)} delivery: the password would reach the person by e-mail; set the target's password delivery to reveal`;
  return null;
}

/** The refusal of the credential endpoint under "gateway only" (409: the grant is fine, the password is not for showing). */
export const gatewayOnlyRefusal = () =>
  new AppError('conflict', 'this grant is for the SSH gateway only: its password is never shown; connect with timebox ssh <target>', { reason: 'gateway_only' });
