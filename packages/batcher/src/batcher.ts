interface Waiter<V> {
  resolve: (value: V) => void;
  reject: (error: unknown) => void;
}

interface Entry<I, V> {
  input: I;
  waiters: Array<Waiter<V>>;
}

export interface BatcherOptions<K, V, A = void> {
  /** Most entries per batch call (a vendor's page size, a statement's sensible row count). */
  maxBatch: number;
  /** The value for a key the batch call returned nothing for; without it such a call is rejected. */
  missing?: (key: K) => V | Promise<V>;
  /**
   * Awaited before each batch is taken, its result handed to the batch call: e.g. a vendor's
   * rate-limit slot, so that calls arriving while it is awaited still ride on this batch. If it
   * fails, the batch it was for fails with its error.
   */
  admit?: () => Promise<A>;
  /**
   * Awaited before each batch's admission while the batch is not full: lets a caller that knows
   * more calls are on their way wait for them (a rate-limited vendor call is worth filling), and
   * return at once when it is quiet, so a lone call still goes out without delay.
   */
  fill?: () => Promise<void>;
  /**
   * When a batch call fails, run its entries one by one, so one bad entry (a row the database
   * refuses) fails only its own caller. For batch calls that are cheap to repeat (database
   * statements), not for rate-limited vendor calls.
   */
  isolateFailures?: boolean;
}

/**
 * Serves single calls with batch calls, one batch in flight at a time: a lone call goes out at once,
 * and whatever arrives while a batch is in flight (or waiting for a vendor's rate limit) rides on the
 * next one. Under a burst N calls become N / batch calls; when quiet, nothing waits.
 *
 * Calls are keyed: a key added again before its batch leaves is sent once, with the latest input,
 * and every caller gets that result. Batches run in order, so a later write for a key never lands
 * before an earlier one.
 */
export class Batcher<K, I, V, A = void> {
  private pending = new Map<K, Entry<I, V>>();
  private running = false;

  constructor(
    private readonly runBatch: (entries: Map<K, I>, admission: A | undefined) => Promise<Map<K, V>>,
    private readonly options: BatcherOptions<K, V, A>,
  ) {}

  add(key: K, input: I): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const entry = this.pending.get(key);
      if (entry) {
        entry.input = input;
        entry.waiters.push({ resolve, reject });
      } else {
        this.pending.set(key, { input, waiters: [{ resolve, reject }] });
      }
      if (!this.running) void this.drain();
    });
  }

  /** Calls waiting for a batch, not counting the one in flight. */
  get waiting(): number {
    return this.pending.size;
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.size > 0) {
        if (this.options.fill && this.pending.size < this.options.maxBatch) await this.options.fill();
        const admission = this.options.admit ? await this.options.admit().then((value) => ({ value }), (error: unknown) => ({ error })) : undefined;
        const batch = this.take();
        if (admission && "error" in admission) {
          for (const entry of batch.values()) fail(entry, admission.error);
          continue;
        }
        try {
          await this.run(batch, admission?.value);
        } catch (error) {
          if (this.options.isolateFailures && batch.size > 1) {
            for (const [key, entry] of batch) await this.run(new Map([[key, entry]]), undefined).catch((alone: unknown) => fail(entry, alone));
          } else {
            for (const entry of batch.values()) fail(entry, error);
          }
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async run(batch: Map<K, Entry<I, V>>, admission: A | undefined): Promise<void> {
    const found = await this.runBatch(new Map([...batch].map(([key, entry]) => [key, entry.input])), admission);
    for (const [key, entry] of batch) {
      if (found.has(key)) settle(entry, found.get(key)!);
      else if (this.options.missing) settle(entry, await this.options.missing(key));
      else fail(entry, new Error(`batch call returned nothing for ${String(key)}`));
    }
  }

  private take(): Map<K, Entry<I, V>> {
    const batch = new Map<K, Entry<I, V>>();
    for (const [key, entry] of this.pending) {
      if (batch.size === this.options.maxBatch) break;
      this.pending.delete(key);
      batch.set(key, entry);
    }
    return batch;
  }
}

function settle<I, V>(entry: Entry<I, V>, value: V): void {
  for (const waiter of entry.waiters) waiter.resolve(value);
}

function fail<I, V>(entry: Entry<I, V>, error: unknown): void {
  for (const waiter of entry.waiters) waiter.reject(error);
}
