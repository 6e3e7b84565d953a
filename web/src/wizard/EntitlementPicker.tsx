/** The groups or roles to grant, searched live on the target (GET …/targets/:id/entitlements). */
import { useEffect, useState } from 'react';
import { call, messageOf } from '../api';
import type { Entitlement, Page } from '../../../src/api/types.js';

export function EntitlementPicker(props: {
  tenant: string;
  targetId: string;
  selected: string[];
  onChange: (next: string[]) => void;
  error?: string | undefined;
  /** For other uses than the wizard (ids, legend and search label). */
  idPrefix?: string;
  legend?: string;
  searchLabel?: string;
}) {
  const prefix = props.idPrefix ?? 'entitlement';
  const searchLabel = props.searchLabel ?? 'Search groups and roles';
  const [search, setSearch] = useState('');
  const [page, setPage] = useState<Page<Entitlement> | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const { tenant, targetId, selected } = props;

  useEffect(() => {
    if (!targetId) return;
    let stale = false;
    const t = setTimeout(() => {
      call('listEntitlements', { params: { tenant, targetId }, query: { search: search.trim() || undefined, limit: 50 } })
        .then(
          (p) => {
            if (stale) return;
            setPage(p);
            setLoadError(null);
          },
          (err: unknown) => !stale && setLoadError(messageOf(err)),
        );
    }, 250);
    return () => {
      stale = true;
      clearTimeout(t);
    };
  }, [tenant, targetId, search]);

  const toggle = (name: string, on: boolean) =>
    props.onChange(on ? [...selected.filter((s) => s !== name), name] : selected.filter((s) => s !== name));

  return (
    <fieldset className="field entitlements" aria-describedby={props.error ? `${prefix}s-error` : undefined}>
      <legend>{props.legend ?? 'Groups / roles'}</legend>
      <label htmlFor={`${prefix}-search`} className="sr-only">
        {searchLabel}
      </label>
      <input
        id={`${prefix}-search`}
        type="search"
        placeholder={`${searchLabel}…`}
        value={search}
        onChange={(e) => setSearch(e.target.value)}
        aria-invalid={props.error ? true : undefined}
      />
      {loadError ? (
        <p className="field-error" role="alert">
          {loadError}
        </p>
      ) : null}
      <div className="choice-list" role="group" aria-label="Matching groups and roles">
        {page === null ? (
          <p className="hint">Loading…</p>
        ) : page.items.length === 0 ? (
          <p className="hint">Nothing matches “{search}”.</p>
        ) : (
          page.items.map((e) => (
            <label key={e.externalId} className="choice">
              <input type="checkbox" checked={selected.includes(e.externalId)} onChange={(ev) => toggle(e.externalId, ev.target.checked)} />
              <span className="mono">{e.displayName}</span>
              {e.description ? <span className="hint"> — {e.description}</span> : null}
            </label>
          ))
        )}
        {page?.nextCursor ? <p className="hint">More results: refine the search.</p> : null}
      </div>
      {selected.length ? (
        <p className="chips" aria-label="Chosen">
          Chosen:{' '}
          {selected.map((s) => (
            <button type="button" key={s} className="chip" onClick={() => toggle(s, false)} aria-label={`Remove ${s}`}>
              {s} ×
            </button>
          ))}
        </p>
      ) : null}
      {props.error ? (
        <p className="field-error" id={`${prefix}s-error`} role="alert">
          {props.error}
        </p>
      ) : null}
    </fieldset>
  );
}
