/**
 * Which position and hash each unsealed event gets: pure, so the order rule is tested alone.
 *
 * The sealer only hands over events of transactions that ended before the oldest one still
 * running (xid < xmin of its snapshot), so no event can later appear with a smaller xid than an
 * event already sealed. Sorting by (xid, insertion id) therefore gives an order that never
 * changes once sealed: a transaction that commits late is sealed later, after what came before.
 */
import { hashRecord, GENESIS_HASH, type AuditContent } from './audit-log.js';

/** The key of a chain: the tenant id, or '' for the platform chain. */
export const PLATFORM_CHAIN = '';
export const chainOf = (tenantId: string | null): string => tenantId ?? PLATFORM_CHAIN;

export interface UnsealedEvent extends AuditContent {
  seq: string;
  /** The writing transaction's xid8, as a decimal string. */
  xid: string;
}

export interface ChainHead {
  position: string;
  hash: string;
}

export interface SealedLink {
  seq: string;
  tenant_id: string | null;
  position: string;
  prev_hash: string;
  hash: string;
}

/** Deterministic seal order: transaction id, then insertion id (both compared as integers). */
export function compareSealOrder(a: Pick<UnsealedEvent, 'xid' | 'seq'>, b: Pick<UnsealedEvent, 'xid' | 'seq'>): number {
  const x = BigInt(a.xid) - BigInt(b.xid);
  if (x !== 0n) return x < 0n ? -1 : 1;
  const s = BigInt(a.seq) - BigInt(b.seq);
  return s === 0n ? 0 : s < 0n ? -1 : 1;
}

/**
 * Links `events` onto the chains whose current heads are given (a chain missing from `heads`
 * starts at the genesis hash). Returns the links in seal order and the new heads.
 */
export function planSeal(events: readonly UnsealedEvent[], heads: ReadonlyMap<string, ChainHead>): { links: SealedLink[]; heads: Map<string, ChainHead> } {
  const next = new Map(heads);
  const links: SealedLink[] = [];
  for (const e of [...events].sort(compareSealOrder)) {
    const chain = chainOf(e.tenant_id);
    const head = next.get(chain);
    const position = (head ? BigInt(head.position) + 1n : 1n).toString();
    const prev_hash = head?.hash ?? GENESIS_HASH;
    const hash = hashRecord(prev_hash, { ...e, position });
    links.push({ seq: e.seq, tenant_id: e.tenant_id, position, prev_hash, hash });
    next.set(chain, { position, hash });
  }
  return { links, heads: next };
}
