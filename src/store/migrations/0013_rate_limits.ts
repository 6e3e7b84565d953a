import { sql, type Kysely } from 'kysely';

/**
 * Request counters for rate-limited routes (sign-in, agent enrolment, webhook tests), shared by
 * every server process on the database: a limit holds behind a load balancer too.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE rate_limits (
      key text PRIMARY KEY,
      count integer NOT NULL,
      reset_at timestamptz NOT NULL
    );
    CREATE INDEX rate_limits_reset ON rate_limits (reset_at);
  `.execute(db);
}
