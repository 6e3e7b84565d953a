import { describe, expect, it } from 'vitest';
import { factorArg, playbackSteps } from './sessions-play.js';

const cast = [
  JSON.stringify({ version: 2, width: 80, height: 24 }),
  JSON.stringify([0.5, 'o', '$ ']),
  JSON.stringify([0.6, 'i', 'l']),
  JSON.stringify([1.5, 'o', 'ls\r\n']),
  JSON.stringify([1.6, 'r', '100x30']),
  JSON.stringify([61.5, 'o', 'after a break']),
  '',
].join('\n');

describe('playbackSteps', () => {
  it('plays the output with its pauses, idle gaps capped, scaled by the speed', () => {
    expect(playbackSteps(cast, { speed: 1, idleLimitSeconds: 2 })).toEqual([
      { waitMs: 500, data: '$ ' },
      { waitMs: 1000, data: 'ls\r\n' },
      { waitMs: 2000, data: 'after a break' },
    ]);
    expect(playbackSteps(cast, { speed: 2, idleLimitSeconds: 2 }).map((s) => s.waitMs)).toEqual([250, 500, 1000]);
    expect(playbackSteps(cast, { speed: 0, idleLimitSeconds: 2 }).map((s) => s.waitMs)).toEqual([0, 0, 0]);
  });

  it('refuses a line that is not an event, and bad factors', () => {
    expect(() => playbackSteps(`{}\nnot json\n`, { speed: 1, idleLimitSeconds: 2 })).toThrow("line 2 is not an asciicast event");
    expect(factorArg('1.5', '--speed', 1000)).toBe(1.5);
    for (const bad of ['', '-1', 'fast', 'Infinity', '1001']) expect(() => factorArg(bad, '--speed', 1000)).toThrow('--speed must be a number from 0 to 1000');
  });
});
