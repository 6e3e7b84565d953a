import type { ReactNode } from 'react';

/** The page title (focused on navigation, so screen readers announce the new page) and its actions. */
export function PageHeader(props: { title: string; children?: ReactNode; intro?: ReactNode }) {
  return (
    <div className="page-header">
      <div>
        <h1 tabIndex={-1}>{props.title}</h1>
        {props.intro ? <p className="intro">{props.intro}</p> : null}
      </div>
      {props.children ? <div className="page-actions">{props.children}</div> : null}
    </div>
  );
}
