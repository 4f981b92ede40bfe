interface Waiter<V> {
  resolve: (value: V) => void;
  reject: (error: unknown) => void;
}

/**
 * Collects requests for keys and serves them with batch calls, one call in flight at a time: a lone
 * request goes out at once, and whatever arrives while a call is in flight (or waiting for the
 * vendor's rate limit) rides on the next one. Under a burst this turns N look-ups into N / batch
 * calls; a key asked for twice before its call leaves is fetched once.
 */
export class BatchLoader<K, V> {
  private pending = new Map<K, Array<Waiter<V>>>();
  private running = false;

  constructor(
    private readonly fetchBatch: (keys: K[]) => Promise<Map<K, V>>,
    private readonly maxBatch: number,
    /** The value for a key the batch call did not return. */
    private readonly missing: (key: K) => V | Promise<V>,
  ) {}

  load(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const waiters = this.pending.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.size > 0) {
        const batch = [...this.pending].slice(0, this.maxBatch);
        for (const [key] of batch) this.pending.delete(key);
        try {
          const found = await this.fetchBatch(batch.map(([key]) => key));
          for (const [key, waiters] of batch) {
            const value = found.has(key) ? found.get(key)! : await this.missing(key);
            for (const waiter of waiters) waiter.resolve(value);
          }
        } catch (error) {
          for (const [, waiters] of batch) for (const waiter of waiters) waiter.reject(error);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
