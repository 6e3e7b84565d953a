/** The items of a target's connection test, each passed or failed with its message. */
import type { CheckReport } from '../../../src/api/types.js';

export function CheckResult({ report, title }: { report: CheckReport; title: string }) {
  return (
    <section className={`check ${report.ok ? 'check-ok' : 'check-bad'}`} aria-label={title} role="status">
      <p className="check-summary">{report.ok ? '✓ Connection works' : '✗ Connection has problems'}</p>
      <ul>
        {report.items.map((i) => (
          <li key={i.name} className={i.ok ? 'ok' : 'bad'}>
            <span aria-hidden="true">{i.ok ? '✓' : '✗'}</span> <strong>{i.name}</strong>
            <span className="sr-only">{i.ok ? ' passed' : ' failed'}</span>: {i.message}
          </li>
        ))}
      </ul>
    </section>
  );
}
