/** "Audit": the tenant's events, filtered; JSON-lines export from the server, CSV built here. */
import { useEffect, useState } from 'react';
import { pathOf } from '../../../src/api/endpoint.js';
import { endpoints } from '../../../src/api/endpoints.js';
import { allPages, call, messageOf, query } from '../api';
import { FormError } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { useWorkspace } from '../context';
import { download, toCsv } from '../csv';
import { formatDateSeconds, localInputToIso } from '../format';
import { placeError } from '../forms';
import type { AuditEvent, Member } from '../../../src/api/types.js';
import { AuditFilters, type AuditFilter } from './AuditFilters';

type FilterErrors = Partial<Record<keyof AuditFilter | 'form', string>>;
const paths: Partial<Record<string, keyof AuditFilter>> = { 'query.action': 'action', 'query.since': 'since', 'query.until': 'until', 'query.actorId': 'actorId' };

const subjectWords: Record<string, string> = {
  grant: 'Access',
  jit_account: 'Account',
  target: 'Target',
  operator: 'Person',
  policy: 'Policy',
  group: 'Group',
  extension: 'Extension',
  tenant: 'Tenant',
};

/** "Access: alice_jit on orders-db (alice@example.com)", by name where the server knows it, else the kind and a short id. */
export function subjectText(e: AuditEvent): string {
  const n = e.names;
  const kind = subjectWords[e.subject_type] ?? e.subject_type.replace(/_/g, ' ');
  if (n?.account && n.target) return `${kind}: ${n.account} on ${n.target}${n.person ? ` (${n.person})` : ''}`;
  if (n?.subject) return `${kind}: ${n.subject}`;
  return e.subject_id ? `${kind} ${e.subject_id.slice(0, 8)}` : kind;
}

export function AuditPage() {
  const ws = useWorkspace();
  const [members, setMembers] = useState<Member[]>([]);
  const [filter, setFilter] = useState<AuditFilter>({});
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [errors, setErrors] = useState<FilterErrors>({});
  const [exporting, setExporting] = useState(false);

  useEffect(() => {
    allPages('listMembers', { params: { tenant: ws.slug } }, 1000).then(setMembers, () => setMembers([]));
  }, [ws.slug]);

  const fetchPage = async (cursor: string | null) => {
    try {
      const page = await call('listAudit', { params: { tenant: ws.slug }, query: { ...filter, limit: 50, cursor: cursor ?? undefined } });
      setEvents((cur) => (cursor && cur ? [...cur, ...page.items] : page.items));
      setNext(page.nextCursor);
      setErrors({});
    } catch (err) {
      setErrors(placeError(err, paths));
      if (!cursor) setEvents([]);
    }
  };
  useEffect(() => {
    void fetchPage(null);
  }, [ws.slug, filter]);

  const who = (e: AuditEvent) =>
    e.actor_type === 'operator'
      ? (e.names?.actor ?? members.find((m) => m.operator.id === e.actor_id)?.operator.email ?? e.actor_id ?? 'unknown')
      : e.actor_type;

  const exportCsv = async () => {
    setExporting(true);
    try {
      const all = await allPages('listAudit', { params: { tenant: ws.slug }, query: { ...filter } });
      const rows = all.map((e) => [e.at, who(e), e.action, e.subject_type, e.subject_id, subjectText(e), e.reason, e.after]);
      download(`audit-${ws.slug}.csv`, toCsv(['time', 'person', 'action', 'subject_type', 'subject_id', 'subject', 'reason', 'details'], rows), 'text/csv');
    } catch (err) {
      setErrors({ form: messageOf(err) });
    } finally {
      setExporting(false);
    }
  };

  return (
    <div>
      <PageHeader title="Audit" intro="Every step, who took it and why. Each tenant's log is hash-chained and signed; the export carries the hashes and signatures.">
        <a className="button" href={pathOf(endpoints.exportAudit.path, { tenant: ws.slug }) + query({ ...filter })} download={`audit-${ws.slug}.jsonl`}>
          Export JSON lines
        </a>
        <button type="button" onClick={exportCsv} disabled={exporting}>
          {exporting ? 'Exporting…' : 'Export CSV'}
        </button>
      </PageHeader>
      <AuditFilters
        members={members}
        errors={errors}
        onApply={(f) =>
          setFilter({
            actorId: f.actorId || undefined,
            action: f.action.trim() || undefined,
            since: localInputToIso(f.since),
            until: localInputToIso(f.until),
          })
        }
      />
      <FormError message={errors.form} />
      {events === null ? (
        <p className="loading">Loading…</p>
      ) : events.length === 0 ? (
        <p className="empty">No events match.</p>
      ) : (
        <table className="table" aria-label="Audit events">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Person</th>
              <th scope="col">Action</th>
              <th scope="col">Subject</th>
              <th scope="col">Reason</th>
              <th scope="col" title="Position in the tenant's hash chain">Chain</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.id}>
                <td className="nowrap">{formatDateSeconds(e.at)}</td>
                <td>{who(e)}</td>
                <td className="mono">{e.action}</td>
                <td className="subject" title={e.subject_id ? `${e.subject_type} ${e.subject_id}` : e.subject_type} data-testid="audit-subject">
                  {subjectText(e)}
                </td>
                <td className="reason">{e.reason ?? ''}</td>
                <td className="mono small" title={e.sealed ? undefined : 'recorded; joins the hash chain within a second'}>
                  {e.sealed ? `#${e.position}` : 'sealing…'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next ? (
        <button type="button" onClick={() => fetchPage(next)}>
          Load more
        </button>
      ) : null}
    </div>
  );
}
