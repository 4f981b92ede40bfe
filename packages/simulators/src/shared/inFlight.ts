/** Work a simulator started on its own (webhook deliveries), so a test can wait until it is done. */
export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();

  /** Returns `work` itself; a rejection stays the caller's to handle. */
  track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    const done = () => this.pending.delete(work);
    work.then(done, done);
    return work;
  }

  /** Resolves once nothing is pending, including work started while waiting. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
