/** Exponential backoff with full jitter between half and all of the step: many servers never retry in step. */
export function backoffMs(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
  return Math.round(step / 2 + (random() * step) / 2);
}
