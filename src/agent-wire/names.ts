/**
 * Name rules for everything the agent passes to host tools. They are checked before any command
 * runs (and again inside each host operation), so a hostile or corrupted desired state can never
 * smuggle an option ("-o"), a path ("../"), a second sudoers rule or a shell word into argv.
 */

/** POSIX-portable user/group name as shadow-utils accepts it, at most 32 characters. */
export const ACCOUNT_NAME_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
/** Grant ids become sudoers.d file names: sudo skips names with "." or a trailing "~", so none here. */
export const GRANT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export class NameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NameError';
  }
}

/** Why `name` is not acceptable as a user or group name, or null when it is. */
export function accountNameProblem(name: unknown, what = 'user name'): string | null {
  if (typeof name !== 'string' || name.length === 0) return `${what} is empty`;
  const shown = JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
  if (name.length > 32) return `${what} ${shown} is longer than 32 characters`;
  if (name.startsWith('-')) return `${what} ${shown} starts with "-" (it would read as an option)`;
  if (name.includes('/') || name.includes('..')) return `${what} ${shown} contains a path ("/" or "..")`;
  if (/\s/.test(name)) return `${what} ${shown} contains whitespace`;
  if (!ACCOUNT_NAME_RE.test(name)) {
    return `${what} ${shown} must match ${ACCOUNT_NAME_RE.source} (lowercase letters, digits, "_" and "-")`;
  }
  if (name === 'root') return `${what} "root" is never managed by the agent`;
  return null;
}

export function assertAccountName(name: unknown, what = 'user name'): asserts name is string {
  const problem = accountNameProblem(name, what);
  if (problem) throw new NameError(problem);
}

export function assertGrantId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !GRANT_ID_RE.test(id)) {
    throw new NameError(`grant id ${JSON.stringify(id)} must match ${GRANT_ID_RE.source}`);
  }
}

/** A sudo run-as target: a user name (root and system accounts allowed: impersonation) or ALL. */
export function runAsProblem(name: unknown): string | null {
  if (name === 'ALL' || name === 'root') return null;
  return accountNameProblem(name, 'run-as user');
}

/** Digest pinning (`sha256:<hex or base64> /path`); only base64/hex characters in the digest. */
const DIGEST_PREFIX = /^sha(224|256|384|512):[A-Za-z0-9+/=]+ /;

/**
 * Screens one sudoers command for characters that change the rule's structure: newlines (a new
 * rule), "," (another command), ":" (another Host=Cmnd pair or a tag), "=", "\\" (escapes and line
 * continuations) and "#" (comments). Everything else, including the grammar of the arguments and
 * of an optional "sha256:<digest> " prefix, is left to `visudo -c`, the authority on sudoers syntax.
 */
export function sudoCommandProblem(command: unknown): string | null {
  if (command === 'ALL') return null;
  if (typeof command !== 'string' || command.length === 0) return 'a sudo command is empty';
  if (command.length > 1024) return 'a sudo command is longer than 1024 characters';
  const shown = JSON.stringify(command.slice(0, 80));
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(command)) return `sudo command ${shown} contains a control character`;
  const digest = DIGEST_PREFIX.exec(command)?.[0] ?? '';
  const rest = command.slice(digest.length);
  if (!rest.startsWith('/')) return `sudo command ${shown} must be ALL or start with an absolute path`;
  if (/[,:=\\#]/.test(rest)) return `sudo command ${shown} contains one of , : = \\ # (not allowed)`;
  return null;
}
