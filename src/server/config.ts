/** Server settings from the environment, validated: a typo is a clear error at start, not later. */
import { z } from 'zod';
import { SettingsError } from '../core/errors.js';
import { describeIssues, installIssueSentences } from '../core/zod-issues.js';
import { parseOutboundAllow } from '../net/outbound-policy.js';
import { parseTrustProxy } from '../http/trust-proxy.js';
import { HTTP_FORMATS } from '../siem/http-batch.js';
import { parseHttpCollectorUrl, parseSyslogUrl } from '../siem/siem-config.js';

/** What a token sent in an HTTP header may hold: no space, no line break, nothing a header cannot carry. */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8420),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' }).optional(),
  TIMEBOX_DATA_DIR: z.string().default('./data'),
  TIMEBOX_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Proxies in front of Timebox: false, a hop count, or their addresses/CIDRs (src/http/trust-proxy.ts). */
  TIMEBOX_TRUST_PROXY: z
    .string()
    .default('false')
    .transform((v, ctx) => {
      const parsed = parseTrustProxy(v);
      if (parsed.ok) return parsed.value;
      ctx.addIssue({ code: 'custom', message: parsed.message });
      return z.NEVER;
    }),
  TIMEBOX_SECURE_COOKIES: z.enum(['true', 'false']).default('false'),
  /** Enables the in-memory 'fake' target kind: for benchmarks and demos, never production. */
  TIMEBOX_ENABLE_FAKE_CONNECTOR: z.enum(['true', 'false']).default('false'),
  TIMEBOX_SWEEP_MS: z.coerce.number().int().min(50).max(600_000).default(5_000),
  TIMEBOX_REVOKE_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
  TIMEBOX_RETRY_BASE_MS: z.coerce.number().int().min(10).max(600_000).default(1_000),
  TIMEBOX_SLOW_RETRY_MS: z.coerce.number().int().min(100).max(86_400_000).default(900_000),
  TIMEBOX_WORKER_ID: z.string().max(100).optional(),
  /** How often the reconciler compares JIT accounts with their targets and repairs drift; 0: never. */
  TIMEBOX_RECONCILE_MS: z.coerce.number().int().min(0).max(86_400_000).refine((v) => v === 0 || v >= 1_000, { error: 'must be 0 (off) or at least 1000 ms' }).default(300_000),
  /** The built dashboard (npm run build:web); defaults to dist/web of this package. */
  TIMEBOX_WEB_DIR: z.string().optional(),
  /** The ssh-keygen signing SSH certificates (absolute path); default: the first of /usr/bin, /bin, /usr/local/bin. */
  TIMEBOX_SSH_KEYGEN: z.string().refine((p) => p.startsWith('/'), { error: 'must be an absolute path, e.g. /usr/bin/ssh-keygen' }).optional(),
  /**
   * Address ranges the server may connect to besides the public internet (webhooks, SMTP relays,
   * targets): any of loopback, private, link-local, cgnat, and CIDRs, comma-separated.
   */
  TIMEBOX_OUTBOUND_ALLOW: z
    .string()
    .default('')
    .superRefine((v, ctx) => {
      try {
        parseOutboundAllow(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^TIMEBOX_OUTBOUND_ALLOW: /, '') });
      }
    }),
  /** How people reach this server (behind a proxy): the single sign-on redirect URI is built from it. */
  TIMEBOX_PUBLIC_URL: z.url({ error: 'must be an absolute URL, e.g. https://timebox.example.com' }).optional(),
  /** Bearer token a Prometheus scraper presents at /metrics; unset: the endpoint is off (404). */
  // Unguessable rather than throttled: counting wrong tokens per address would let a misconfigured
  // second scraper on the same host lock the right one out, and refusing only the wrong ones
  // would still tell a guesser when it hit.
  TIMEBOX_METRICS_TOKEN: z
    .string()
    .min(32, { error: 'must be at least 32 characters (e.g. openssl rand -hex 32)', abort: true })
    .regex(VISIBLE_ASCII, { error: 'must be printable ASCII without spaces, as a scraper sends it after "Bearer " (e.g. openssl rand -hex 32)', abort: true })
    .refine((t) => new Set(t).size >= 8, { error: 'looks typed, not random: use at least 8 different characters (e.g. openssl rand -hex 32)' })
    .optional(),
  /** `iss` of security tokens; defaults to the server's URL. Resource servers check it. */
  TIMEBOX_TOKEN_ISSUER: z.url({ error: 'must be an absolute URL, e.g. https://timebox.example.com' }).optional(),
  /** Append-only file that receives every signed audit checkpoint; default <data dir>/audit-witness.jsonl. */
  TIMEBOX_AUDIT_WITNESS_FILE: z.string().min(1).optional(),
  /** How often the audit sealer looks for committed events to seal. */
  TIMEBOX_AUDIT_SEAL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  /** A signed checkpoint of every chain that moved after this many sealed events... */
  TIMEBOX_AUDIT_CHECKPOINT_EVENTS: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  /** ...or this long after the first event sealed since the last checkpoint. */
  TIMEBOX_AUDIT_CHECKPOINT_MS: z.coerce.number().int().min(100).max(86_400_000).default(60_000),
  /** How often every chain, moved or not, is checked against what was signed (tampering found in a quiet tenant). */
  TIMEBOX_AUDIT_RECHECK_MS: z.coerce.number().int().min(1000).max(86_400_000).default(600_000),
  /** SIEM: sealed audit events to syslog over TLS, tls://host:port (docs/siem.md). */
  TIMEBOX_SIEM_SYSLOG: z.string().min(1).optional().superRefine((v, ctx) => {
    const r = v === undefined ? null : parseSyslogUrl(v);
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
  }),
  /** PEM file of the CA that issued the syslog collector's certificate (default: the system's). */
  TIMEBOX_SIEM_SYSLOG_CA: z.string().min(1).optional(),
  /** SIEM: sealed audit events as JSON batches to an HTTP collector. */
  TIMEBOX_SIEM_HTTP: z.string().min(1).optional().superRefine((v, ctx) => {
    const r = v === undefined ? null : parseHttpCollectorUrl(v);
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
  }),
  /** Sent as `Authorization: Splunk <token>` (splunk) or `Bearer <token>` (json). */
  TIMEBOX_SIEM_HTTP_TOKEN: z.string().regex(VISIBLE_ASCII, { error: 'must be printable ASCII without spaces or line breaks (it is sent in a header)' }).optional(),
  TIMEBOX_SIEM_HTTP_FORMAT: z.enum(HTTP_FORMATS).default('json'),
  TIMEBOX_SIEM_HTTP_CA: z.string().min(1).optional(),
  /** Events per SIEM delivery, and how often an idle sink looks for sealed events. */
  TIMEBOX_SIEM_BATCH: z.coerce.number().int().min(1).max(10_000).default(500),
  TIMEBOX_SIEM_POLL_MS: z.coerce.number().int().min(10).max(600_000).default(1_000),
  /** First retry delay after a failed delivery; doubles (with jitter) up to TIMEBOX_SIEM_RETRY_MAX_MS. */
  TIMEBOX_SIEM_RETRY_BASE_MS: z.coerce.number().int().min(10).max(600_000).default(1_000),
  TIMEBOX_SIEM_RETRY_MAX_MS: z.coerce.number().int().min(10).max(3_600_000).default(300_000),
});

export type ServerConfig = z.infer<typeof envSchema>;

export function loadServerConfig(env: Record<string, string | undefined>): ServerConfig {
  installIssueSentences();
  // An empty value counts as unset, as env files and unit files write "not set" (NAME=).
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = envSchema.safeParse(given);
  if (!parsed.success) throw new SettingsError(`invalid server settings: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}
