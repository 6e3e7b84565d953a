/**
 * The agent's own settings (SMTP for credential email, the power-users group, the login shell,
 * sshd's certificate trust files).
 * Read from a JSON file, by default `agent.json` in the state directory. It may hold the SMTP
 * password, so it must not be readable or writable by anyone but its owner.
 */
import { readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { SmtpSettingsSchema } from './deliver-credentials.js';
import { SshTrustSettingsSchema } from './ssh-trust.js';

export const AgentConfigSchema = z.strictObject({
  smtp: SmtpSettingsSchema.optional(),
  /** Local group for the `power-users` role (no default: hosts differ). */
  powerUsersGroup: z.string().optional(),
  /** Login shell for created accounts. */
  shell: z.string().optional(),
  /** The host name shown in credential emails (default: os.hostname()). */
  hostName: z.string().min(1).max(255).optional(),
  /** Longest sleep of the enforcer between passes. */
  maxSleepMs: z.int().min(100).max(300_000).optional(),
  /** How often the host is checked for changes made by hand to what grants gave (default 300 s). */
  driftCheckSeconds: z.int().min(1).max(86_400).optional(),
  /** How long after its end a grant's account is still checked (default 168 h, 7 days). */
  driftWatchHours: z.int().min(0).max(24 * 366).optional(),
  /** Server mode: longest wait between attempts to reach an unreachable server (default 30 s). */
  backoffMaxMs: z.int().min(1_000).max(600_000).optional(),
  /** Server mode: how often the agent reports its health (default 30 s). */
  heartbeatMs: z.int().min(1_000).max(600_000).optional(),
  /** Server mode: how long one long poll may be held by the server (default 25 s). */
  pollWaitSeconds: z.int().min(1).max(25).optional(),
  /** Server mode: keep sshd's RevokedKeys (and TrustedUserCAKeys) files current (ssh-trust.ts). */
  sshTrust: SshTrustSettingsSchema.optional(),
});
export type AgentConfig = z.infer<typeof AgentConfigSchema>;
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;

/** Loads and checks the config file; `undefined` when `optional` and the file does not exist. */
export async function loadAgentConfig(file: string, optional: boolean): Promise<AgentConfig | undefined> {
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read agent config ${file}: ${(err as Error).message}`);
  }
  if (st.mode & 0o077) {
    throw new Error(`agent config ${file} is accessible to group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`agent config ${file} is not JSON: ${(err as Error).message}`);
  }
  const parsed = AgentConfigSchema.safeParse(json);
  // zod messages name paths and expectations, never the values: no SMTP password in the error.
  if (!parsed.success) throw new Error(`agent config ${file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
