/** Break-glass grants owe a review after the fact; tracked until someone (not the requester) does it. */
import { AppError, forbidden, notFound } from '../core/errors.js';
import type { Actor, AppDeps } from './deps.js';

export interface ReviewView {
  grantId: string;
  requesterEmail: string;
  reason: string;
  owedSince: Date;
  reviewerId: string | null;
  reviewedAt: Date | null;
  verdict: string | null;
  notes: string | null;
}

/** Oldest owed first; `after` is the (owed_since, grant id) of the last review of the previous page. */
export async function listReviews(
  deps: Pick<AppDeps, 'db'>,
  tenantId: string,
  open: boolean,
  page: { limit: number; after?: { owedSince: Date; grantId: string } },
): Promise<ReviewView[]> {
  let q = deps.db
    .selectFrom('reviews')
    .innerJoin('grants', 'grants.id', 'reviews.grant_id')
    .innerJoin('operators', 'operators.id', 'grants.operator_id')
    .innerJoin('access_requests', 'access_requests.id', 'grants.request_id')
    .select(['reviews.grant_id', 'operators.email', 'access_requests.reason', 'reviews.owed_since', 'reviews.reviewer_id', 'reviews.reviewed_at', 'reviews.verdict', 'reviews.notes'])
    .where('reviews.tenant_id', '=', tenantId);
  if (open) q = q.where('reviews.reviewed_at', 'is', null);
  const { after } = page;
  if (after) q = q.where((eb) => eb(eb.refTuple('reviews.owed_since', 'reviews.grant_id'), '>', eb.tuple(after.owedSince, after.grantId)));
  const rows = await q.orderBy('reviews.owed_since').orderBy('reviews.grant_id').limit(page.limit).execute();
  return rows.map((r) => ({
    grantId: r.grant_id,
    requesterEmail: r.email,
    reason: r.reason,
    owedSince: r.owed_since,
    reviewerId: r.reviewer_id,
    reviewedAt: r.reviewed_at,
    verdict: r.verdict,
    notes: r.notes,
  }));
}

export async function submitReview(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  reviewerId: string,
  grantId: string,
  input: { verdict: 'justified' | 'not_justified'; notes: string },
): Promise<void> {
  await deps.db.transaction().execute(async (tx) => {
    const review = await tx.selectFrom('reviews').selectAll().where('grant_id', '=', grantId).where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst();
    if (!review) throw notFound(`review of grant ${grantId}`);
    if (review.reviewed_at) throw new AppError('conflict', 'this break-glass grant has already been reviewed');
    const grant = await tx.selectFrom('grants').select('operator_id').where('id', '=', grantId).executeTakeFirstOrThrow();
    if (grant.operator_id === reviewerId) throw forbidden('you cannot review your own break-glass access');
    const now = deps.clock.now();
    await tx.updateTable('reviews').set({ reviewer_id: reviewerId, reviewed_at: now, verdict: input.verdict, notes: input.notes }).where('id', '=', review.id).execute();
    await tx.updateTable('alerts').set({ resolved_at: now }).where('grant_id', '=', grantId).where('severity', '=', 'warning').where('resolved_at', 'is', null).execute();
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: 'grant.reviewed',
      subject: { type: 'grant', id: grantId },
      reason: input.notes,
      after: { verdict: input.verdict },
    });
  });
}
