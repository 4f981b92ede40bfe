/** How often something happened over the last `windowMs` (default one second), per millisecond. */
export class RecentRate {
  private times: number[] = [];

  constructor(private readonly windowMs = 1_000, private readonly now: () => number = Date.now) {}

  note(): void {
    this.times.push(this.now());
  }

  /** Over the whole window, or over its last `lastMs` (a quicker, noisier view). */
  perMs(lastMs = this.windowMs): number {
    const now = this.now();
    const firstRecent = this.times.findIndex((at) => at > now - this.windowMs);
    this.times = firstRecent === -1 ? [] : this.times.slice(firstRecent);
    if (lastMs >= this.windowMs) return this.times.length / this.windowMs;
    let count = 0;
    for (let i = this.times.length - 1; i >= 0 && this.times[i]! > now - lastMs; i--) count++;
    return count / lastMs;
  }
}
