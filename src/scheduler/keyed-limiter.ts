/**
 * Bounded concurrency, overall and per key (per target), so a mass expiry cannot exhaust a
 * target's connections or starve the API: excess work waits its turn in memory only while claimed.
 */
export interface KeyedLimiter {
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

export function createKeyedLimiter(opts: { total: number; perKey: number }): KeyedLimiter {
  let running = 0;
  const perKey = new Map<string, number>();
  const waiting: Array<{ key: string; start: () => void }> = [];

  const canStart = (key: string) => running < opts.total && (perKey.get(key) ?? 0) < opts.perKey;

  function pump() {
    for (let i = 0; i < waiting.length; ) {
      const w = waiting[i]!;
      if (canStart(w.key)) {
        waiting.splice(i, 1);
        w.start();
      } else i++;
    }
  }

  return {
    run<T>(key: string, fn: () => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const start = () => {
          running++;
          perKey.set(key, (perKey.get(key) ?? 0) + 1);
          fn()
            .then(resolve, reject)
            .finally(() => {
              running--;
              const n = (perKey.get(key) ?? 1) - 1;
              if (n === 0) perKey.delete(key);
              else perKey.set(key, n);
              pump();
            });
        };
        if (canStart(key)) start();
        else waiting.push({ key, start });
      });
    },
  };
}
