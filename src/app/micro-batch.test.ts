import { describe, expect, it } from 'vitest';
import { microBatch } from './micro-batch.js';

/** A store stand-in that records each call's keys: how many round trips a wake-up costs. */
function recordingLoad(fail?: (keys: string[]) => boolean) {
  const calls: string[][] = [];
  const load = async (keys: string[]) => {
    calls.push(keys);
    if (fail?.(keys)) throw new Error('the store is down');
    return new Map(keys.filter((k) => k !== 'gone').map((k) => [k, `state of ${k}`]));
  };
  return { calls, load };
}

describe('microBatch', () => {
  it('answers the lookups of one turn with one load, each caller with its own value', async () => {
    const { calls, load } = recordingLoad();
    const get = microBatch(load);
    const answers = await Promise.all(['a', 'b', 'c'].map(get));
    expect(answers).toEqual(['state of a', 'state of b', 'state of c']);
    expect(calls).toEqual([['a', 'b', 'c']]);
  });

  it('asks once for a key wanted twice in a turn, and answers undefined for a missing one', async () => {
    const { calls, load } = recordingLoad();
    const get = microBatch(load);
    expect(await Promise.all([get('a'), get('a'), get('gone')])).toEqual(['state of a', 'state of a', undefined]);
    expect(calls).toEqual([['a', 'gone']]);
  });

  it('splits a large turn into loads of at most max keys, and starts a new batch in the next turn', async () => {
    const { calls, load } = recordingLoad();
    const get = microBatch(load, 2);
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map(get));
    await get('f');
    expect(calls).toEqual([['a', 'b'], ['c', 'd'], ['e'], ['f']]);
  });

  it('fails every caller of a failed load, and only those', async () => {
    const { load } = recordingLoad((keys) => keys.includes('a'));
    const get = microBatch(load, 2);
    const results = await Promise.allSettled(['a', 'b', 'c'].map(get));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
  });
});
