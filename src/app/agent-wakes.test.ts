import { afterEach, describe, expect, it, vi } from 'vitest';
import { answerOwed, answersDelivered, onWake, sameWakes, wakeAgent, wakeAllAgents, wakeMarkOf } from './agent-wakes.js';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';

afterEach(() => {
  vi.useRealTimers();
});

describe('wake marks', () => {
  it('tell a poll that its agent was woken since a version was read, and only its own agent', () => {
    const mark = wakeMarkOf(A);
    expect(sameWakes(A, mark)).toBe(true);
    wakeAgent(B, 3);
    expect(sameWakes(A, mark)).toBe(true);
    wakeAgent(A, 4);
    expect(sameWakes(A, mark)).toBe(false);
  });

  it('are all made stale by a wake of every agent (a change may have been missed)', () => {
    const a = wakeMarkOf(A);
    const b = wakeMarkOf(B);
    wakeAllAgents();
    expect(sameWakes(A, a)).toBe(false);
    expect(sameWakes(B, b)).toBe(false);
  });

  it('hand a held poll the version its wake announced', () => {
    const heard: (number | undefined)[] = [];
    const off = onWake(A, (v) => heard.push(v));
    wakeAgent(A, 7);
    wakeAgent(A);
    off();
    wakeAgent(A, 8);
    expect(heard).toEqual([7, undefined]);
  });
});

describe('answers first', () => {
  it('lets a new poll through at once when no woken poll waits for its answer', () => {
    expect(answersDelivered()).toBeUndefined();
  });

  it('holds a new poll until every owed answer is given', async () => {
    const first = answerOwed();
    const second = answerOwed();
    let through = false;
    const held = answersDelivered()!.then(() => (through = true));
    first();
    first(); // paying twice counts once
    await Promise.resolve();
    expect(through).toBe(false);
    second();
    await held;
    expect(through).toBe(true);
    expect(answersDelivered()).toBeUndefined();
  });

  it('never holds a new poll longer than five seconds', async () => {
    vi.useFakeTimers();
    const owed = answerOwed();
    let through = false;
    const held = answersDelivered()!.then(() => (through = true));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(through).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await held;
    expect(through).toBe(true);
    owed();
  });
});
