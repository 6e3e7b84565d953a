/** What every kind's field group gets, and the props of one bound text field. */
import type { DraftErrors } from './target-kinds';

export interface FieldProps {
  values: Record<string, string>;
  errors: DraftErrors;
  onChange: (field: string, value: string) => void;
}

/** value, error and onChange of one text field. */
export const binder = (p: FieldProps) => (f: string) => ({
  value: p.values[f] ?? '',
  error: p.errors[f],
  onChange: (e: { target: { value: string } }) => p.onChange(f, e.target.value),
});
