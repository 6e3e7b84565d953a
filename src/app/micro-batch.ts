/**
 * Gathers the lookups asked for in one turn of the event loop into one call of `load` (at most
 * `max` keys per call). One change can wake every held poll of a fleet at once; answered one by
 * one, 10,000 polls are 10,000 transactions, gathered they are a few dozen.
 */
export type Batched<K, V> = (key: K) => Promise<V | undefined>;

interface Waiting<V> {
  resolve: (v: V | undefined) => void;
  reject: (err: unknown) => void;
}

export function microBatch<K, V>(load: (keys: K[]) => Promise<Map<K, V>>, max = 500): Batched<K, V> {
  let queue = new Map<K, Waiting<V>[]>();
  let scheduled = false;

  const run = async (batch: Map<K, Waiting<V>[]>) => {
    try {
      const found = await load([...batch.keys()]);
      for (const [k, ws] of batch) for (const w of ws) w.resolve(found.get(k));
    } catch (err) {
      for (const ws of batch.values()) for (const w of ws) w.reject(err);
    }
  };

  const flush = () => {
    scheduled = false;
    const all = queue;
    queue = new Map();
    let batch = new Map<K, Waiting<V>[]>();
    for (const [k, ws] of all) {
      batch.set(k, ws);
      if (batch.size >= max) {
        void run(batch);
        batch = new Map();
      }
    }
    if (batch.size > 0) void run(batch);
  };

  return (key) =>
    new Promise<V | undefined>((resolve, reject) => {
      const ws = queue.get(key);
      if (ws) ws.push({ resolve, reject });
      else queue.set(key, [{ resolve, reject }]);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
