/**
 * Counts requests the way a strict vendor does: at most `max` in ANY window of `perMs`, not per
 * calendar second. A fixed-window simulator would forgive bursts at window edges that a real
 * vendor punishes.
 */
export class SlidingWindow {
  private readonly hits = new Map<string, number[]>();

  constructor(readonly max: number, readonly perMs: number) {}

  /** Takes one slot for `key` if the window has room; otherwise says how long until one frees up. */
  take(key: string, now = Date.now()): { ok: true; remaining: number } | { ok: false; retryAfterMs: number } {
    const recent = (this.hits.get(key) ?? []).filter((at) => at > now - this.perMs);
    if (recent.length >= this.max) {
      this.hits.set(key, recent);
      return { ok: false, retryAfterMs: recent[0]! + this.perMs - now };
    }
    recent.push(now);
    this.hits.set(key, recent);
    return { ok: true, remaining: this.max - recent.length };
  }

  reset(): void {
    this.hits.clear();
  }
}
