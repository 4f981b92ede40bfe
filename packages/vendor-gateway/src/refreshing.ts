/** A value read from a vendor and trusted for `ttlMs`; concurrent callers share one load. */
export class Refreshing<T> {
  private value: T | undefined;
  private loadedAt = 0;
  private loading: Promise<T> | undefined;

  constructor(private readonly load: () => Promise<T>, private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  async get(): Promise<T> {
    if (this.value !== undefined && this.now() - this.loadedAt < this.ttlMs) return this.value;
    this.loading ??= this.load()
      .then((value) => {
        this.value = value;
        this.loadedAt = this.now();
        return value;
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }
}
