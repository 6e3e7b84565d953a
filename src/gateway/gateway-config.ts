/** Gateway settings from the environment (beside the server's own, which it shares). */
import path from 'node:path';
import { z } from 'zod';
import { describeIssues, installIssueSentences } from '../core/zod-issues.js';
import { SettingsError } from '../core/errors.js';

const schema = z.object({
  /** Where the gateway listens; `timebox serve` runs one only when this is set. */
  TIMEBOX_GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  TIMEBOX_GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
  /** How people reach the gateway (`host:port`), told to `timebox ssh`; default where it listens. */
  TIMEBOX_GATEWAY_PUBLIC_ADDRESS: z
    .string()
    .regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/, { error: 'must be host:port, e.g. gateway.example.com:2222' })
    .optional(),
  /** Stable name of this gateway: at its start it closes, as abnormal, the sessions it held before. */
  TIMEBOX_GATEWAY_ID: z.string().min(1).max(100).optional(),
  TIMEBOX_GATEWAY_RECORDINGS_DIR: z.string().min(1).optional(),
  /** Record keystrokes too ("i" events). Passwords typed at prompts are recorded with them. */
  TIMEBOX_GATEWAY_RECORD_INPUT: z.enum(['true', 'false']).default('false'),
  TIMEBOX_GATEWAY_FLUSH_MS: z.coerce.number().int().min(50).max(2000).default(1000),
  TIMEBOX_GATEWAY_POLL_MS: z.coerce.number().int().min(50).max(5000).default(250),
  /** A connection not signed in by then is closed (OpenSSH's LoginGraceTime). */
  TIMEBOX_GATEWAY_LOGIN_GRACE_MS: z.coerce.number().int().min(1000).max(600_000).default(120_000),
  TIMEBOX_DATA_DIR: z.string().default('./data'),
});

export interface GatewayConfig {
  port: number | null;
  host: string;
  publicAddress: string | null;
  /** TIMEBOX_GATEWAY_ID, or null: `gateway@<host>:<port>` (a random name on port 0). */
  gatewayId: string | null;
  recordingsDir: string;
  recordInput: boolean;
  flushMs: number;
  pollMs: number;
  loginGraceMs: number;
}

export function loadGatewayConfig(env: Record<string, string | undefined>): GatewayConfig {
  installIssueSentences();
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new SettingsError(`invalid gateway settings: ${describeIssues(parsed.error.issues)}`);
  const c = parsed.data;
  return {
    port: c.TIMEBOX_GATEWAY_PORT ?? null,
    host: c.TIMEBOX_GATEWAY_HOST,
    publicAddress: c.TIMEBOX_GATEWAY_PUBLIC_ADDRESS ?? null,
    gatewayId: c.TIMEBOX_GATEWAY_ID ?? null,
    recordingsDir: c.TIMEBOX_GATEWAY_RECORDINGS_DIR ?? path.join(c.TIMEBOX_DATA_DIR, 'recordings'),
    recordInput: c.TIMEBOX_GATEWAY_RECORD_INPUT === 'true',
    flushMs: c.TIMEBOX_GATEWAY_FLUSH_MS,
    pollMs: c.TIMEBOX_GATEWAY_POLL_MS,
    loginGraceMs: c.TIMEBOX_GATEWAY_LOGIN_GRACE_MS,
  };
}
