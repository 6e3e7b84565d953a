/** Where a server error belongs in a form: at a field (by issue path or wording) or at the top. */
import { ApiError, messageOf } from './api';

export type FieldErrors<F extends string> = Partial<Record<F | 'form', string>>;

/**
 * `paths` maps request body paths (`body.reason`) to fields; `words` maps words in the message
 * (`/duration/i`) to fields, for policy and conflict errors that carry no path.
 */
export function placeError<F extends string>(
  err: unknown,
  paths: Partial<Record<string, F>>,
  words: [RegExp, F][] = [],
): FieldErrors<F> {
  const out: FieldErrors<F> = {};
  if (err instanceof ApiError && err.issues.length) {
    for (const issue of err.issues) {
      const key = Object.keys(paths).find((p) => issue.path === p || issue.path.startsWith(`${p}.`) || issue.path.startsWith(`${p}[`));
      const field = key ? paths[key] : undefined;
      if (field && !out[field]) out[field] = issue.message;
      else out.form = out.form ?? err.message;
    }
    return out;
  }
  const message = messageOf(err);
  if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
    const hit = words.find(([re]) => re.test(message));
    if (hit) return { [hit[1]]: message } as FieldErrors<F>;
  }
  return { form: message } as FieldErrors<F>;
}

export const hasErrors = (e: Record<string, string | undefined>): boolean => Object.values(e).some(Boolean);

/** Focuses the first control the form marked invalid. */
export function focusFirstInvalid(form: HTMLElement | null): void {
  requestAnimationFrame(() => {
    const el = form?.querySelector<HTMLElement>('[aria-invalid="true"]') ?? form?.querySelector<HTMLElement>('.form-error');
    el?.focus();
  });
}
