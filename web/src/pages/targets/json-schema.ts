/**
 * The target kinds as the server declares them (GET /target-kinds, typed by the API contract), with
 * the part of JSON Schema the target forms read: the contract serves a kind's config schema as a
 * JSON Schema document, which the forms walk.
 */
import type { TargetKind } from '../../../../src/api/types.js';

/** The part of JSON Schema the target forms read. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  enum?: unknown[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  examples?: unknown[];
  /** A secret: never shown back, blank keeps it when editing. */
  writeOnly?: boolean;
  /** A form hint: 'pem', 'lines', or the name of a custom field component. */
  'x-widget'?: string;
  /** Shown under "Advanced settings". */
  'x-advanced'?: boolean;
}

/** A target kind from the contract, its config schema read as JSON Schema. */
export type TargetKindInfo = Omit<TargetKind, 'configSchema'> & { configSchema: JsonSchema };
