/**
 * "Does this target offer entitlement X?", exactly. Kinds with an exact lookup answer it; the
 * others are asked by listing, following every page, so a real entitlement is never missed
 * because many others containing its name sort first.
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
