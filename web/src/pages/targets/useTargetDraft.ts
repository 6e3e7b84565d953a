/**
 * What a form creating a target holds: the target's name, the kind's settings and sudo rules, and
 * the messages by field. "Add a target" and an agent's "Create host target" check the same things
 * before sending and show the server's objections the same way, so both keep them here.
 */
import { useRef, useState } from 'react';
import { focusFirstInvalid } from '../../forms';
import { placeConfigErrors } from './config-errors';
import type { SudoRuleDraft } from './linux-agent-kind';
import { draftProblems, initialDraft, targetNameProblem, type ConfigValues, type DraftErrors, type TargetDraft, type TargetKind } from './target-kinds';

/** `kind` is the kind the form shows now; `start` fills the name and settings the form opens with. */
export function useTargetDraft(kind: TargetKind, start: { name?: string; values?: ConfigValues } = {}) {
  const formRef = useRef<HTMLFormElement>(null);
  const [name, setName] = useState(start.name ?? '');
  const [draft, setDraft] = useState<TargetDraft>(() => {
    const d = initialDraft(kind);
    return { ...d, values: { ...d.values, ...start.values } };
  });
  const [errors, setErrors] = useState<DraftErrors>({});

  // A field's message goes as soon as the field is changed.
  const clear = (field: string) => setErrors((cur) => (cur[field] ? { ...cur, [field]: '' } : cur));

  return {
    formRef,
    name,
    draft,
    errors,
    changeName(value: string) {
      setName(value);
      clear('name');
    },
    changeValue(field: string, value: string) {
      setDraft((cur) => ({ ...cur, values: { ...cur.values, [field]: value } }));
      clear(field);
    },
    /** Rules added, removed or edited: their messages may no longer match a rule, so all go. */
    changeRules(sudoRules: SudoRuleDraft[]) {
      setDraft((cur) => ({ ...cur, sudoRules }));
      setErrors((cur) => Object.fromEntries(Object.entries(cur).filter(([k]) => !k.startsWith('sudoRules'))));
    },
    /** Another kind chosen: its own starting settings, and no messages about the old ones. */
    reset(next: TargetKind) {
      setDraft(initialDraft(next));
      setErrors({});
    },
    /** The checks made before sending; false, with the first wrong field focused, when one fails. */
    check(): boolean {
      const found = draftProblems(kind, draft);
      const nameProblem = targetNameProblem(name);
      if (nameProblem) found.name = nameProblem;
      setErrors(found);
      if (!Object.keys(found).length) return true;
      focusFirstInvalid(formRef.current);
      return false;
    },
    /** The server's objections, at the fields `fieldOf` names for config paths (null: the form's message). */
    refused(err: unknown, fieldOf: (path: string[]) => string | null) {
      setErrors(placeConfigErrors(err, fieldOf));
      focusFirstInvalid(formRef.current);
    },
  };
}
