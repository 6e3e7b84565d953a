/**
 * A node-postgres client that sends each parameterised query as a named prepared statement, so
 * the server parses and plans a given text once per connection instead of at every call. Every
 * query the store sends is a fixed text with `$n` parameters, so the set of texts is small; this
 * took about 40% of the database's CPU off a grant's lifecycle (the lifecycle benchmark).
 *
 * Three limits keep it safe:
 * - Only queries with parameters are named. A text without any may hold several statements (the
 *   migrations), which a prepared statement cannot.
 * - At most MAX_NAMED texts per connection; beyond that queries go unnamed, as before.
 * - When a table's columns change under a prepared `SELECT *` (another replica migrated), the
 *   server refuses the old statement ("cached plan must not change result type"). The client
 *   then starts a new generation of names, so the next call prepares the new shape; a query
 *   sent outside a transaction is retried at once (nothing ran), one inside a transaction fails
 *   like any other error of that transaction.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { StoreUnavailableError } from '../core/errors.js';
import { isConnectionEndingState } from './connection-loss.js';

const MAX_NAMED = 2_000;
const names = new Map<string, string>();

function nameOf(text: string): string {
  let n = names.get(text);
  if (!n) {
    // Shared by every connection: a text's name is the same everywhere, within the cap.
    if (names.size >= MAX_NAMED * 4) names.clear();
    n = createHash('sha256').update(text).digest('base64url').slice(0, 32);
    names.set(text, n);
  }
  return n;
}

const RESULT_TYPE_CHANGED = 'cached plan must not change result type';

export class PreparedStatementClient extends pg.Client {
  #generation = 0;
  #named = new Set<string>();

  // pg's overloads are many; the store only calls (text, values) and (config).
  override query(...args: unknown[]): never {
    const [text, values] = args;
    const plain = typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || args.length !== 2;
    const sent: unknown = plain ? (super.query as (...a: unknown[]) => unknown)(...args) : this.#prepared(text, values, true);
    // Callback and cursor calls answer otherwise; only a promise is ours to translate.
    if (!(sent instanceof Promise)) return sent as never;
    return sent.catch((err: unknown) => {
      throw this.#lost(err) ? new StoreUnavailableError(err) : err;
    }) as never;
  }

  /**
   * The connection is gone, told by the server (an ending SQLSTATE) or by the client's own state:
   * pg records an ended socket in fields its pool also reads, and says so otherwise only in words.
   */
  #lost(err: unknown): boolean {
    const state = this as unknown as { _ended?: boolean; _queryable?: boolean };
    return state._ended === true || state._queryable === false || isConnectionEndingState(err);
  }

  async #prepared(text: string, values: unknown[], mayRetry: boolean): Promise<pg.QueryResult> {
    const base = nameOf(text);
    if (!this.#named.has(base) && this.#named.size >= MAX_NAMED) return super.query(text, values);
    this.#named.add(base);
    // The server's last word on the session: 'I' idle, 'T' in a transaction, 'E' in a failed one.
    const outsideTransaction = this.getTransactionStatus() === 'I';
    try {
      return await super.query({ name: `tb${this.#generation}_${base}`, text, values });
    } catch (err) {
      if (!(err instanceof Error && err.message.includes(RESULT_TYPE_CHANGED))) throw err;
      this.#generation += 1;
      this.#named.clear();
      if (mayRetry && outsideTransaction) return this.#prepared(text, values, false);
      throw err;
    }
  }
}
