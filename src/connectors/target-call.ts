/**
 * The one wrapper every call to a target goes through: give up early if the caller did, map a
 * failure to the kind's retry classes (its own `toTargetError`), and log it by operation, never
 * with the spec (it may hold a password).
 */
import type { TargetError } from '../core/errors.js';
import type { ConnectorContext } from './contract.js';

export type TargetCall = <T>(ctx: ConnectorContext, op: string, fn: () => Promise<T>) => Promise<T>;

export function targetCaller(kind: string, where: string, toTargetError: (err: unknown, where: string) => TargetError): TargetCall {
  return async (ctx, op, fn) => {
    try {
      ctx.signal?.throwIfAborted();
      return await fn();
    } catch (err) {
      const mapped = toTargetError(err, where);
      ctx.log.warn({ target: where, kind, op, errorClass: mapped.errorClass, err: mapped.message }, `${kind} target call failed`);
      throw mapped;
    }
  };
}
