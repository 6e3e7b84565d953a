import { PageHeader } from '../components/PageHeader';

/** Placeholder until approval workflows exist: today a matching policy approves at once. */
export function ApprovalsPage() {
  return (
    <div>
      <PageHeader title="Approvals" />
      <div className="card placeholder">
        <p>
          <strong>Approvals are coming with approval workflows.</strong>
        </p>
        <p>Until then, a request that a policy covers is approved at once, and every step is in the audit log.</p>
      </div>
    </div>
  );
}
