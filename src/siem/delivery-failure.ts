/**
 * A failed delivery as the operator reads it in the log: what failed and its class (never the
 * collector's own bytes), and for a refused address the setting that decides it.
 */
import { failureClass } from '../net/failure-class.js';

export function deliveryFailure(what: string, err: unknown): Error {
  const cls = failureClass(err);
  const hint = cls === 'address not allowed' ? ': the outbound address policy refuses it (TIMEBOX_OUTBOUND_ALLOW)' : '';
  return new Error(`${what} (${cls})${hint}`, { cause: err });
}
