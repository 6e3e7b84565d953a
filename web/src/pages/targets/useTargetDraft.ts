/**
 * What a form creating or editing a target holds: the target's name, the kind's settings as form
 * values, and the messages by field. "Add a target", "Edit" and an agent's "Create host target"
 * check the same things before sending and show the server's objections the same way.
 */
import { useMemo, useRef, useState } from 'react';
import { focusFirstInvalid } from '../../forms';
import type { TargetKindInfo } from './json-schema';
import { placeConfigErrors } from './config-errors';
import { configOf, fieldOfPath, fieldsOf, initialValues, missingRequired, type DraftErrors, type Values } from './schema-fields';

const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]*$/;

/** The server's rule for target names (src/http/routes/target-routes.ts). */
export function targetNameProblem(name: string): string | undefined {
  if (!name.trim()) return 'Give the target a name.';
  if (name.trim().length > 64) return 'Use at most 64 characters.';
  if (!TARGET_NAME.test(name.trim())) return 'Use letters, digits, spaces, dots, underscores and hyphens.';
  return undefined;
}

/** `kind` is the kind the form shows now (null while kinds load); `start` the name and stored settings it opens with. */
export function useTargetDraft(kind: TargetKindInfo | null, start: { name?: string; config?: Record<string, unknown>; editing?: boolean } = {}) {
  const formRef = useRef<HTMLFormElement>(null);
  const fields = useMemo(() => (kind ? fieldsOf(kind.configSchema) : []), [kind]);
  const [name, setName] = useState(start.name ?? '');
  const [values, setValues] = useState<Values>(() => initialValues(fields, start.config));
  const [valuesOf, setValuesOf] = useState<string | null>(kind?.kind ?? null);
  const [errors, setErrors] = useState<DraftErrors>({});

  // Another kind (or the kinds just loaded): its own starting settings, and no messages about the old ones.
  if ((kind?.kind ?? null) !== valuesOf) {
    setValuesOf(kind?.kind ?? null);
    setValues(initialValues(fields, start.config));
    setErrors({});
  }

  const clear = (field: string) => setErrors((cur) => (cur[field] ? { ...cur, [field]: '' } : cur));

  return {
    formRef,
    fields,
    name,
    values,
    errors,
    changeName(value: string) {
      setName(value);
      clear('name');
    },
    changeValue(field: string, value: unknown) {
      setValues((cur) => ({ ...cur, [field]: value }));
      clear(field);
    },
    clearErrors(prefix: string) {
      setErrors((cur) => Object.fromEntries(Object.entries(cur).filter(([k]) => !k.startsWith(prefix))));
    },
    config: () => configOf(fields, values),
    /** The checks made before sending; false, with the first wrong field focused, when one fails. */
    check(): boolean {
      const found = missingRequired(fields, values, !!start.editing);
      const nameProblem = targetNameProblem(name);
      if (nameProblem) found.name = nameProblem;
      setErrors(found);
      if (!Object.keys(found).length) return true;
      focusFirstInvalid(formRef.current);
      return false;
    },
    /** The server's objections at their fields (`hidden` fields' go to the form's message). */
    refused(err: unknown, hidden: string[] = []) {
      setErrors(placeConfigErrors(err, (path) => (hidden.includes(path[0] ?? '') ? null : fieldOfPath(fields, values, path))));
      focusFirstInvalid(formRef.current);
    },
  };
}
