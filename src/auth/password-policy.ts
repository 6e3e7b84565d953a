/**
 * What an operator's own password must be: at least 12 characters, not their email, and hard to
 * guess as judged by zxcvbn (score 3 of 4 or more: "safely unguessable" against online and
 * throttled offline attacks). The answer says why, in the estimator's own words.
 */
import type { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { MAX_PASSWORD_INPUT } from './password-hash.js';

export const MIN_PASSWORD_LENGTH = 12;
export const MIN_PASSWORD_SCORE = 3;

/**
 * Loaded on the first password chosen, not at start: the dictionaries cost about a third of a
 * second of CPU, and every restart would pay it.
 */
let estimator: Promise<ZxcvbnFactory> | undefined;
const zxcvbn = () =>
  (estimator ??= (async () => {
    const [{ ZxcvbnFactory }, common, en] = await Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common'), import('@zxcvbn-ts/language-en')]);
    return new ZxcvbnFactory({
      translations: en.translations,
      graphs: common.adjacencyGraphs,
      dictionary: { ...common.dictionary, ...en.dictionary },
      // Longer inputs are not more guessable; capping keeps the estimate fast.
      maxLength: 128,
    });
  })());

/** Null when acceptable; otherwise a sentence for the person choosing it. */
export async function passwordProblem(password: string, email: string, displayName?: string): Promise<string | null> {
  if (password.length < MIN_PASSWORD_LENGTH) return `the password must be at least ${MIN_PASSWORD_LENGTH} characters long`;
  if (password.length > MAX_PASSWORD_INPUT) return `the password must be at most ${MAX_PASSWORD_INPUT} characters long`;
  const lower = password.trim().toLowerCase();
  const mail = email.trim().toLowerCase();
  if (lower === mail || lower === mail.split('@')[0]) return 'the password must not be your email address';
  const inputs = [mail, ...mail.split(/[@.+_-]/), ...(displayName ? displayName.toLowerCase().split(/\s+/) : []), 'timebox'].filter((w) => w.length >= 3);
  const result = (await zxcvbn()).check(password, inputs);
  if (result.score >= MIN_PASSWORD_SCORE) return null;
  const why = [result.feedback.warning, ...result.feedback.suggestions].filter((s): s is string => Boolean(s)).join(' ');
  return `the password is too easy to guess (strength ${result.score} of 4, needs ${MIN_PASSWORD_SCORE})${why ? `: ${why}` : ''}`;
}
