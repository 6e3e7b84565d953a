/**
 * Where the server's objections to a target belong in the form. Request validation and the kind's
 * config validation both list issues by path (`body.name`, `config.sudoRules.psql.commands.0`); the form
 * decides which field each path is shown under.
 */
import { ApiError, messageOf } from '../../api';
import type { DraftErrors } from './schema-fields';

const splitPath = (p: string): string[] => p.replace(/\[(\d+)\]/g, '.$1').split('.').filter(Boolean);

/**
 * Messages by field. `fieldOf` names the field of a config path (null: the form's message). An
 * item of a list that the message does not quote gets its line number ("Line 2: must be …").
 */
export function placeConfigErrors(err: unknown, fieldOf: (path: string[]) => string | null): DraftErrors {
  const message = messageOf(err);
  if (!(err instanceof ApiError) || err.issues.length === 0) {
    return err instanceof ApiError && err.status === 409 && err.code === 'conflict' && /target named/.test(message) ? { name: message } : { form: message };
  }
  const out: DraftErrors = {};
  const other: string[] = [];
  const add = (field: string, text: string) => {
    out[field] = out[field] ? `${out[field]} ${text}` : text;
  };
  for (const issue of err.issues) {
    const path = splitPath(issue.path.replace(/^body\.?/, ''));
    if (path[0] === 'name' && path.length === 1) {
      add('name', issue.message);
      continue;
    }
    const inConfig = path[0] === 'config' ? path.slice(1) : path;
    const field = fieldOf(inConfig);
    if (!field) {
      other.push(inConfig.length ? `${inConfig.join('.')}: ${issue.message}` : issue.message);
      continue;
    }
    const index = inConfig.findIndex((p) => /^\d+$/.test(p));
    const text = index > 0 && !issue.message.includes('"') ? `Line ${Number(inConfig[index]) + 1}: ${issue.message}` : issue.message;
    add(field, /[.!?]$/.test(text) ? text : `${text}.`);
  }
  if (other.length) out.form = other.join('; ');
  return out;
}
