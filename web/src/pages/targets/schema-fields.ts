/**
 * A target kind's config schema (JSON Schema from the server) as form fields: which control each
 * property gets, its starting value, and the config object a form sends. Nothing here knows a
 * kind: the schema says it all (`title`, `description`, `writeOnly` for secrets, `x-widget`,
 * `x-advanced`), and kinds that need more name a custom field component (custom-fields.tsx).
 * The server validates every config; the form only says which required fields are still empty.
 */
import type { JsonSchema } from './json-schema';
import { customFields } from './custom-fields';

export type Widget = 'text' | 'password' | 'number' | 'select' | 'checkbox' | 'checkboxes' | 'pem' | 'lines' | 'custom';

export interface FieldSpec {
  key: string;
  title: string;
  description?: string;
  widget: Widget;
  /** For 'custom': the component's name (`x-widget`). */
  custom?: string;
  options?: string[];
  required: boolean;
  advanced: boolean;
  secret: boolean;
  placeholder?: string;
  schema: JsonSchema;
}

/** What the form holds per field: text, a switch, chosen options, or a custom component's own value. */
export type Values = Record<string, unknown>;
/** Messages by form field ('name', 'form', a config key, or a custom component's own keys). */
export type DraftErrors = Record<string, string>;

const typeOf = (s: JsonSchema): string | undefined => (Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type);

function widgetOf(s: JsonSchema): { widget: Widget; custom?: string } {
  const hint = s['x-widget'];
  if (hint === 'pem' || hint === 'lines') return { widget: hint };
  if (hint && customFields[hint]) return { widget: 'custom', custom: hint };
  if (s.writeOnly) return { widget: 'password' };
  if (s.enum) return { widget: 'select' };
  const t = typeOf(s);
  if (t === 'boolean') return { widget: 'checkbox' };
  if (t === 'integer' || t === 'number') return { widget: 'number' };
  if (t === 'array') return s.items?.enum ? { widget: 'checkboxes' } : { widget: 'lines' };
  if (s.anyOf?.some((a) => typeOf(a) === 'array')) return { widget: 'lines' };
  return { widget: 'text' };
}

export function fieldsOf(schema: JsonSchema): FieldSpec[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([key, s]) => {
    const example = s.examples?.[0];
    return {
      key,
      title: s.title ?? key,
      description: s.description,
      ...widgetOf(s),
      options: (s.enum ?? s.items?.enum)?.map(String),
      required: required.has(key),
      advanced: s['x-advanced'] === true,
      secret: s.writeOnly === true,
      placeholder: typeof example === 'string' ? example : undefined,
      schema: s,
    };
  });
}

/** Lines or comma-separated items, trimmed, without empty ones. */
export const itemsOf = (text: unknown): string[] =>
  String(text ?? '')
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);

/** The form's starting values: the stored settings when editing, else the schema's defaults. */
export function initialValues(fields: FieldSpec[], stored: Record<string, unknown> = {}): Values {
  const out: Values = {};
  for (const f of fields) {
    const v = f.key in stored ? stored[f.key] : f.schema.default;
    switch (f.widget) {
      case 'custom':
        out[f.key] = customFields[f.custom!]!.initial(v);
        break;
      case 'checkbox':
        out[f.key] = v === true;
        break;
      case 'checkboxes':
        out[f.key] = Array.isArray(v) ? v.map(String) : [];
        break;
      case 'lines':
        out[f.key] = Array.isArray(v) ? v.join('\n') : v === undefined ? '' : String(v);
        break;
      default:
        out[f.key] = v === undefined || v === null ? '' : String(v);
    }
  }
  return out;
}

/** The value the server gets for one field, or undefined to leave it out (the server's default, or the stored value when editing). */
function configValue(f: FieldSpec, v: unknown): unknown {
  switch (f.widget) {
    case 'custom':
      return customFields[f.custom!]!.toConfig(v);
    case 'checkbox':
      return v === true;
    case 'checkboxes':
      return v;
    case 'lines': {
      const items = itemsOf(v);
      return items.length ? items : undefined;
    }
    case 'number': {
      const text = String(v ?? '').trim();
      if (!text) return undefined;
      // Not a number: sent as typed, so the server names the field.
      return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
    }
    case 'password':
      return v ? String(v) : undefined;
    default: {
      const text = String(v ?? '').trim();
      return text ? text : undefined;
    }
  }
}

export function configOf(fields: FieldSpec[], values: Values): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = configValue(f, values[f.key]);
    if (v !== undefined) out[f.key] = v;
  }
  return out;
}

/** Required fields still empty; when editing, a blank secret keeps the stored one. */
export function missingRequired(fields: FieldSpec[], values: Values, editing: boolean): DraftErrors {
  const out: DraftErrors = {};
  for (const f of fields) {
    if (!f.required || (editing && f.secret)) continue;
    if (configValue(f, values[f.key]) === undefined) out[f.key] = `Enter ${f.title.replace(/ \(.*\)$/, '').toLowerCase()}.`;
  }
  return out;
}

/** The form field a server message about `path` (inside the config) belongs to, or null for the form's message. */
export function fieldOfPath(fields: FieldSpec[], values: Values, path: string[]): string | null {
  const f = fields.find((x) => x.key === path[0]);
  if (!f) return null;
  if (f.widget === 'custom') return customFields[f.custom!]!.fieldOfPath?.(values[f.key], path.slice(1)) ?? f.key;
  return f.key;
}
