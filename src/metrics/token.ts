/**
 * Who may scrape `/metrics`: one bearer token from the settings. Pure; compared in constant
 * time over digests, so neither the content nor the length of the token leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type ScrapeAccess = 'off' | 'allowed' | 'denied';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** `configured` undefined: the endpoint is off (answers 404, as if absent). */
export function scrapeAccess(configured: string | undefined, authorization: string | undefined): ScrapeAccess {
  if (!configured) return 'off';
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  const presented = m?.[1] ?? '';
  // Always compare, even with nothing presented: the same work on every path.
  const same = timingSafeEqual(digest(presented), digest(configured));
  return same && presented.length > 0 ? 'allowed' : 'denied';
}
