/**
 * What an operator's own password must be: at least 12 characters, not their email, and hard to
 * guess as judged by zxcvbn (score 3 of 4 or more: "safely unguessable" against online and
 * throttled offline attacks). The answer says why, in the estimator's own words.
 */
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as en from '@zxcvbn-ts/language-en';
import { MAX_PASSWORD_INPUT } from './password-hash.js';

export const MIN_PASSWORD_LENGTH = 12;
export const MIN_PASSWORD_SCORE = 3;

let estimator: ZxcvbnFactory | undefined;
const zxcvbn = () =>
  (estimator ??= new ZxcvbnFactory({
    translations: en.translations,
    graphs: common.adjacencyGraphs,
    dictionary: { ...common.dictionary, ...en.dictionary },
    // Longer inputs are not more guessable; capping keeps the estimate fast.
    maxLength: 128,
  }));

/** Null when acceptable; otherwise a sentence for the person choosing it. */
export function passwordProblem(password: string, email: string, displayName?: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `the password must be at least ${MIN_PASSWORD_LENGTH} characters long`;
  if (password.length > MAX_PASSWORD_INPUT) return `the password must be at most ${MAX_PASSWORD_INPUT} characters long`;
  const lower = password.trim().toLowerCase();
  const mail = email.trim().toLowerCase();
  if (lower === mail || lower === mail.split('@')[0]) return 'the password must not be your email address';
  const inputs = [mail, ...mail.split(/[@.+_-]/), ...(displayName ? displayName.toLowerCase().split(/\s+/) : []), 'timebox'].filter((w) => w.length >= 3);
  const result = zxcvbn().check(password, inputs);
  if (result.score >= MIN_PASSWORD_SCORE) return null;
  const why = [result.feedback.warning, ...result.feedback.suggestions].filter((s): s is string => Boolean(s)).join(' ');
  return `the password is too easy to guess (strength ${result.score} of 4, needs ${MIN_PASSWORD_SCORE})${why ? `: ${why}` : ''}`;
}
