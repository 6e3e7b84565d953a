/**
 * "Reviews": break-glass access owes a review after the fact, by someone other than the person who
 * used it; and the open alerts that need a person. Both stay current without a reload.
 */
import { useState } from 'react';
import { FormError } from '../components/Field';
import { LiveNotice } from '../components/LiveNotice';
import { PageHeader } from '../components/PageHeader';
import { useWorkspace } from '../context';
import { AlertTable } from './reviews/AlertTable';
import { ReviewCard } from './reviews/ReviewCard';
import { useReviews } from './reviews/useReviews';

export function ReviewsPage() {
  const ws = useWorkspace();
  const { reviews, alerts, grants, error, settle } = useReviews(ws.slug);
  const [notice, setNotice] = useState<string | null>(null);

  return (
    <div className="reviews-page">
      <PageHeader title="Reviews and alerts" intro="Emergency (break-glass) access was granted without approval: each use is reviewed afterwards. Alerts stay here until resolved." />
      <LiveNotice message={notice} />
      <FormError message={error} />
      <section aria-labelledby="reviews-owed">
        <h2 id="reviews-owed">Break-glass reviews owed</h2>
        {reviews === null ? (
          error ? null : <p className="loading">Loading…</p>
        ) : reviews.length === 0 ? (
          <p className="empty" data-testid="reviews-empty">
            No break-glass access is waiting for a review.
          </p>
        ) : (
          <div className="approval-list">
            {reviews.map((r) => (
              <ReviewCard
                key={r.grantId}
                tenant={ws.slug}
                review={r}
                grant={grants[r.grantId]}
                mine={r.requesterEmail === ws.me.email}
                onRecorded={(message) => {
                  settle(r.grantId);
                  setNotice(message);
                }}
              />
            ))}
          </div>
        )}
      </section>
      <section aria-labelledby="open-alerts">
        <h2 id="open-alerts">Open alerts</h2>
        {alerts === null ? (
          error ? null : <p className="loading">Loading…</p>
        ) : alerts.length === 0 ? (
          <p className="empty" data-testid="alerts-empty">
            No open alerts.
          </p>
        ) : (
          <AlertTable alerts={alerts} grants={grants} />
        )}
      </section>
    </div>
  );
}
