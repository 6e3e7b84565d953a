/**
 * net/tls/http skip `lookup` for an IP literal, so the outbound policy's lookup alone would let
 * `tls://127.0.0.1` through: literals are checked here, names by the policy's lookup at connect.
 */
import { OutboundRefused, type OutboundPolicy } from '../net/outbound-policy.js';

export function refuseDisallowedLiteral(policy: OutboundPolicy, host: string): void {
  const problem = policy.literalProblem(host);
  if (problem) throw new OutboundRefused(host, host, problem);
}
