/**
 * Where the server's objections to a target belong in the form. They come in two shapes: request
 * validation lists issues by path (`body.sudoRules.psql.commands[0]`), and the connector's own
 * config check says "invalid <kind> target configuration: config.a.b: …; config.c: …". Both become
 * config paths; the kind decides which field each path is shown under (target-kinds.ts).
 */
import { ApiError, messageOf } from '../../api';
import type { DraftErrors } from './target-kinds';

export interface ConfigIssue {
  /** Inside the config (`['sudoRules', 'psql', 'commands', '0']`); `['name']` is the target's name. */
  path: string[];
  message: string;
  /** The target's own name, not a config field. */
  isName?: boolean;
}

const splitPath = (p: string): string[] => p.replace(/\[(\d+)\]/g, '.$1').split('.').filter(Boolean);

/** "config.a.b: message" (or "config: message") → issue; null for any other text. */
function fromText(part: string): ConfigIssue | null {
  const m = /^config(?:\.([^:]+))?: ([\s\S]*)$/.exec(part.trim());
  return m ? { path: m[1] ? splitPath(m[1]) : [], message: m[2]! } : null;
}

export function configIssuesOf(err: unknown): { issues: ConfigIssue[]; other: string[] } {
  if (!(err instanceof ApiError) || err.status !== 400) return { issues: [], other: [messageOf(err)] };
  const issues: ConfigIssue[] = [];
  const other: string[] = [];
  if (err.issues.length) {
    for (const i of err.issues) {
      const path = splitPath(i.path.replace(/^body\.?/, ''));
      if (path[0] === 'name' && path.length === 1) issues.push({ path, message: i.message, isName: true });
      else if (path[0] === 'config') issues.push({ path: path.slice(1), message: i.message });
      else if (path.length) issues.push({ path, message: i.message });
      else other.push(`${i.path}: ${i.message}`);
    }
    return { issues, other };
  }
  const body = err.message.replace(/^invalid [\w-]+ target configuration: /, '');
  for (const part of body.split('; ')) {
    const issue = fromText(part);
    if (issue) issues.push(issue);
    else other.push(part);
  }
  return { issues, other };
}

/**
 * Messages by field. `fieldOf` names the field of a config path (null: the form's message). An
 * item of a list that the message does not quote gets its line number ("Line 2: must be …").
 */
export function placeConfigErrors(err: unknown, fieldOf: (path: string[]) => string | null): DraftErrors {
  const message = messageOf(err);
  if (err instanceof ApiError && err.status === 409) {
    return /target named/.test(message) ? { name: message } : { form: message };
  }
  const { issues, other } = configIssuesOf(err);
  const out: DraftErrors = {};
  const add = (field: string, text: string) => {
    out[field] = out[field] ? `${out[field]} ${text}` : text;
  };
  for (const issue of issues) {
    const field = issue.isName ? 'name' : fieldOf(issue.path);
    if (!field) {
      other.push(issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message);
      continue;
    }
    const index = issue.path.findIndex((p) => /^\d+$/.test(p));
    const text = index > 0 && !issue.message.includes('"') ? `Line ${Number(issue.path[index]) + 1}: ${issue.message}` : issue.message;
    add(field, /[.!?]$/.test(text) ? text : `${text}.`);
  }
  if (other.length) out.form = other.join('; ');
  return out;
}
