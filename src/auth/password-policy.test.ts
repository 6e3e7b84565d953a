import { describe, expect, it } from 'vitest';
import { passwordProblem } from './password-policy.js';

describe('own password rules', () => {
  it.each([
    ['short1!', /at least 12/],
    ['annabelle@example.com', /email/],
    ['password1234', /too easy to guess.*strength [0-2] of 4/],
    ['annabelle2024', /too easy to guess/],
    ['qwertyuiopasdf', /too easy to guess/],
  ])('refuses %s with a reason', async (pw, why) => {
    expect(await passwordProblem(pw, 'annabelle@example.com', 'Annabelle Smith')).toMatch(why);
  });

  it('accepts a long, unpredictable one', async () => {
    expect(await passwordProblem('violet-harbor-tractor-91', 'annabelle@example.com')).toBeNull();
    expect(await passwordProblem('Kx9#mPq2vL!wZr', 'annabelle@example.com')).toBeNull();
  });
});
