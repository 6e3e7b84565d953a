/** Server-side helpers around the contract's shapes (src/api): turning views into their JSON. */
import type { z } from 'zod';
import type { grantSchema } from '../api/fields.js';
import type { GrantView } from '../app/grants.js';

export const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const grantJson = (g: GrantView): z.infer<typeof grantSchema> => ({
  ...g,
  requestedStartAt: iso(g.requestedStartAt),
  startsAt: iso(g.startsAt),
  expiresAt: iso(g.expiresAt),
  revokedAt: iso(g.revokedAt),
  createdAt: g.createdAt.toISOString(),
});

