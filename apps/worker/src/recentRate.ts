/** How often something happened over the last `windowMs` (default one second), per millisecond. */
export class RecentRate {
  private times: number[] = [];

  constructor(private readonly windowMs = 1_000, private readonly now: () => number = Date.now) {}

  note(): void {
    this.times.push(this.now());
  }

  perMs(): number {
    const since = this.now() - this.windowMs;
    const firstRecent = this.times.findIndex((at) => at > since);
    this.times = firstRecent === -1 ? [] : this.times.slice(firstRecent);
    return this.times.length / this.windowMs;
  }
}
