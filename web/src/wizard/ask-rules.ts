/** Checks shared by "Activate" and "Enable again", mirroring the server (which stays the judge). */
import { formatDuration, parseDuration } from '../format';
import type { Policy } from '../../../src/api/types.js';

export function durationProblem(text: string, policy: Policy | undefined): string | null {
  const seconds = parseDuration(text);
  if (seconds === null) return 'Enter a duration such as 30m, 1h or 1h30m.';
  if (seconds < 10) return 'The duration must be at least 10 seconds.';
  if (policy && seconds > policy.maxDurationSeconds) {
    return `That is longer than policy “${policy.name}” allows: at most ${formatDuration(policy.maxDurationSeconds)}.`;
  }
  return null;
}

export function reasonProblem(text: string, policy: Policy | undefined): string | null {
  const reason = text.trim();
  if (!reason) return 'A reason is required: say why you need this access.';
  if (reason.length > 1000) return 'Keep the reason under 1000 characters.';
  if (policy && reason.length < policy.reasonMinLength) {
    return `Give a reason of at least ${policy.reasonMinLength} characters (policy “${policy.name}”).`;
  }
  return null;
}

/** Server messages that name no field, placed by their wording. */
export const askWords: [RegExp, 'duration' | 'reason' | 'username' | 'entitlements' | 'policy'][] = [
  [/duration/i, 'duration'],
  [/reason/i, 'reason'],
  [/account name|username/i, 'username'],
  [/entitlement|role name/i, 'entitlements'],
  [/polic/i, 'policy'],
];
