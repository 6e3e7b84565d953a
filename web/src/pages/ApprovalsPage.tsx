/** "Approvals": requests and extensions waiting for the viewer's decision, live. */
import { useState } from 'react';
import { FormError } from '../components/Field';
import { LiveNotice } from '../components/LiveNotice';
import { PageHeader } from '../components/PageHeader';
import { useWorkspace } from '../context';
import type { InboxItem } from '../../../src/api/types.js';
import { ApprovalCard, type DecisionKind } from './approvals/ApprovalCard';
import { DecisionDialog } from './approvals/DecisionDialog';
import { itemKey, useInbox } from './approvals/useInbox';

export function ApprovalsPage() {
  const ws = useWorkspace();
  const { items, error, settle } = useInbox(ws.slug);
  const [open, setOpen] = useState<{ item: InboxItem; kind: DecisionKind } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  return (
    <div>
      <PageHeader title="Approvals" intro="Requests and extensions waiting for you. They arrive and leave as they happen; no need to reload." />
      <LiveNotice message={notice} />
      <FormError message={error} />
      {items === null ? (
        error ? null : <p className="loading">Loading…</p>
      ) : items.length === 0 ? (
        <p className="empty" data-testid="inbox-empty">
          Nothing is waiting for your approval.
        </p>
      ) : (
        <section aria-label="Waiting for approval" className="approval-list">
          {items.map((item) => (
            <ApprovalCard
              key={itemKey(item)}
              item={item}
              onDecide={(kind) => {
                setNotice(null);
                setOpen({ item, kind });
              }}
            />
          ))}
        </section>
      )}
      {open ? (
        <DecisionDialog
          tenant={ws.slug}
          item={open.item}
          kind={open.kind}
          onClose={() => setOpen(null)}
          onDone={(message) => {
            settle(itemKey(open.item));
            setOpen(null);
            setNotice(message);
          }}
        />
      ) : null}
    </div>
  );
}
