/**
 * "Does this target offer entitlement X?", exactly. Kinds with an exact lookup answer it; the
 * others are asked by listing, following every page, so a real entitlement is never missed
 * because many others containing its name sort first.
 *
 * A request asks it only to refuse a misspelt entitlement at once rather than at activation, so
 * there a "yes" is remembered for a minute (`entitlementSeen`): a burst of requests for one
 * directory group costs the directory one lookup, not one connection each. A "no" is never
 * remembered (a group created a moment ago is found), and an entitlement removed within the
 * minute fails the activation, which says so and makes the next request ask again. Saving
 * settings asks afresh every time.
 */
import type { ConnectorContext, ConnectorInstance } from '../connectors/contract.js';

const PAGE = 500;
/** A bound on pages followed, against a connector whose cursor never ends. */
const MAX_PAGES = 200;

export async function entitlementExists(instance: ConnectorInstance, ctx: ConnectorContext, name: string): Promise<boolean> {
  if (instance.entitlementExists) return instance.entitlementExists(ctx, name);
  let cursor: string | null = null;
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await instance.listEntitlements(ctx, { search: name, limit: PAGE, cursor });
    if (page.items.some((e) => e.externalId === name)) return true;
    if (!page.nextCursor || page.nextCursor === cursor) return false;
    cursor = page.nextCursor;
  }
  return false;
}

/** How long a request trusts that an entitlement it found still exists. */
export const ENTITLEMENT_SEEN_MS = 60_000;
/** Per instance: a new configuration is a new instance, so a changed target asks again. */
const seen = new WeakMap<ConnectorInstance, Map<string, number>>();
/** Bounded: names are whatever requesters ask for; only found ones are kept. */
const MAX_SEEN_PER_TARGET = 1_000;

/** `entitlementExists`, trusting a "yes" given within the last minute by the same instance. */
export async function entitlementSeen(instance: ConnectorInstance, ctx: ConnectorContext, name: string, nowMs: number): Promise<boolean> {
  const known = seen.get(instance);
  const until = known?.get(name);
  if (until !== undefined && until > nowMs) return true;
  if (!(await entitlementExists(instance, ctx, name))) {
    known?.delete(name);
    return false;
  }
  const map = known ?? new Map<string, number>();
  if (!known) seen.set(instance, map);
  if (map.size >= MAX_SEEN_PER_TARGET) map.clear();
  map.set(name, nowMs + ENTITLEMENT_SEEN_MS);
  return true;
}

/** After an activation the target refused for a missing entitlement: nothing this instance found is trusted any more. */
export function forgetSeenEntitlements(instance: ConnectorInstance): void {
  seen.delete(instance);
}
