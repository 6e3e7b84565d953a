/**
 * A fresh authenticator code, asked for only when the server says so (401 with details.mfa):
 * sign-in, or a policy that demands one to request, approve or reveal. The form keeps its other
 * input; the person types the code and submits again.
 */
import { useState, type ReactElement } from 'react';
import { mfaOf } from '../api';
import { TextField } from './Field';

export interface TotpStep {
  /** Whether the code field is showing. */
  asked: boolean;
  /** The body fields to send: `{ totp }` once asked and typed. */
  body(): { totp?: string };
  /** True when `err` asks for a code (the field is then shown with the server's message). */
  handle(err: unknown): boolean;
  field: ReactElement | null;
}

/** `expected`: show the field from the start (the policy is known to demand a code). */
export function useTotpStep(id: string, expected = false): TotpStep {
  const [asked, setAsked] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const shown = asked !== null || expected;
  return {
    asked: shown,
    body: () => (shown && code.trim() ? { totp: code.replace(/\s+/g, '') } : {}),
    handle(err) {
      const mfa = mfaOf(err);
      if (!mfa) return false;
      setAsked(mfa);
      setCode('');
      return true;
    },
    field: !shown ? null : (
        <TextField
          id={id}
          label="Authenticator code"
          inputMode="numeric"
          autoComplete="one-time-code"
          maxLength={8}
          value={code}
          hint="The 6-digit code your authenticator app shows now; each code works once."
          error={asked === 'invalid' ? 'That code is wrong or was already used: enter the next one.' : asked === 'required' ? 'Enter the code from your authenticator app to continue.' : null}
          onChange={(e) => {
            setCode(e.target.value);
            setAsked((a) => (a === null ? a : 'typing'));
          }}
          autoFocus={asked !== null}
        />
      ),
  };
}
