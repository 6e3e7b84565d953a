/**
 * The command lines of recorded sessions ("declared vs done"): written by the gateway as they
 * are entered, listed beside a session's playback, and searched across a tenant's sessions.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { gatewayDb } from '../store/schema-gateway.js';

/** Longer lines are kept cut to this many characters. */
export const MAX_COMMAND_CHARS = 2000;

export interface CommandView {
  sessionId: string;
  ordinal: number;
  offsetMs: number;
  text: string;
}

export interface CommandHit extends CommandView {
  /** When it was entered: the session's start plus the offset. */
  at: Date;
  targetName: string;
  operatorEmail: string;
  account: string;
  sessionLive: boolean;
}

export async function insertCommand(db: Kysely<Database>, c: { tenantId: string; sessionId: string; ordinal: number; offsetMs: number; text: string }): Promise<void> {
  await gatewayDb(db)
    .insertInto('gateway_session_commands')
    .values({ tenant_id: c.tenantId, session_id: c.sessionId, ordinal: c.ordinal, offset_ms: Math.max(0, Math.round(c.offsetMs)), text: c.text.slice(0, MAX_COMMAND_CHARS) })
    .execute();
}

export async function listCommands(db: Kysely<Database>, tenantId: string, sessionId: string): Promise<CommandView[]> {
  const rows = await gatewayDb(db)
    .selectFrom('gateway_session_commands')
    .select(['session_id', 'ordinal', 'offset_ms', 'text'])
    .where('tenant_id', '=', tenantId)
    .where('session_id', '=', sessionId)
    .orderBy('ordinal')
    .limit(5000)
    .execute();
  return rows.map((r) => ({ sessionId: r.session_id, ordinal: r.ordinal, offsetMs: r.offset_ms, text: r.text }));
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Commands containing `text` (any case), newest first. */
export async function searchCommands(db: Kysely<Database>, tenantId: string, q: { text: string; limit: number }): Promise<CommandHit[]> {
  const rows = await gatewayDb(db)
    .selectFrom('gateway_session_commands as c')
    .innerJoin('gateway_sessions as s', 's.id', 'c.session_id')
    .innerJoin('targets as t', 't.id', 's.target_id')
    .innerJoin('operators as o', 'o.id', 's.operator_id')
    .select(['c.session_id', 'c.ordinal', 'c.offset_ms', 'c.text', 's.started_at', 's.ended_at', 's.account', 't.name as target_name', 'o.email as operator_email'])
    .where('c.tenant_id', '=', tenantId)
    .where('c.text', 'ilike', `%${escapeLike(q.text)}%`)
    .orderBy('c.id', 'desc')
    .limit(q.limit)
    .execute();
  return rows.map((r) => ({
    sessionId: r.session_id,
    ordinal: r.ordinal,
    offsetMs: r.offset_ms,
    text: r.text,
    at: new Date(r.started_at.getTime() + r.offset_ms),
    targetName: r.target_name,
    operatorEmail: r.operator_email,
    account: r.account,
    sessionLive: r.ended_at === null,
  }));
}
