/** How often something happened over the last `windowMs` (default one second), per millisecond. */
export class RecentRate {
  private times: number[] = [];
  private counts: number[] = [];

  constructor(private readonly windowMs = 1_000, private readonly now: () => number = Date.now) {}

  /** `count` happenings now (a batch of them counts as its size). */
  note(count = 1): void {
    this.times.push(this.now());
    this.counts.push(count);
  }

  /** Over the whole window, or over its last `lastMs` (a quicker, noisier view). */
  perMs(lastMs = this.windowMs): number {
    const now = this.now();
    const firstRecent = this.times.findIndex((at) => at > now - this.windowMs);
    this.times = firstRecent === -1 ? [] : this.times.slice(firstRecent);
    this.counts = firstRecent === -1 ? [] : this.counts.slice(firstRecent);
    const span = Math.min(lastMs, this.windowMs);
    let count = 0;
    for (let i = this.times.length - 1; i >= 0 && this.times[i]! > now - span; i--) count += this.counts[i]!;
    return count / span;
  }
}
