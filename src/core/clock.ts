/** The only source of "now" for core and app code, so tests can drive time. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told to; for table-driven tests. */
export function fakeClock(start: Date | string = '2026-01-01T00:00:00.000Z') {
  let t = new Date(start).getTime();
  return {
    now: () => new Date(t),
    advance(ms: number) {
      t += ms;
    },
    set(to: Date | string) {
      t = new Date(to).getTime();
    },
  };
}
