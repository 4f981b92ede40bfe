import type { Clock } from "@funnelsync/vendor-gateway";

interface Sleeper {
  at: number;
  wake: () => void;
}

/**
 * A clock that moves only when the test advances it. Whatever sleeps on it wakes then, soonest first,
 * so a test states how long something was held in the clock's time, however slow the machine is.
 */
export class ManualClock implements Clock {
  private current: number;
  private sleepers: Sleeper[] = [];
  private sleepWatchers: Array<(ms: number) => void> = [];

  constructor(start = 1_800_000_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const sleeper: Sleeper = {
        at: this.current + ms,
        wake: () => {
          this.sleepers = this.sleepers.filter((s) => s !== sleeper);
          signal?.removeEventListener("abort", sleeper.wake);
          resolve();
        },
      };
      this.sleepers.push(sleeper);
      signal?.addEventListener("abort", sleeper.wake, { once: true });
      for (const watcher of this.sleepWatchers) watcher(ms);
    });
  }

  /** How many are sleeping on this clock now. */
  get sleeping(): number {
    return this.sleepers.length;
  }

  /** Moves time on by `ms`, waking every sleeper whose time has come. */
  advance(ms: number): void {
    const until = this.current + ms;
    for (const sleeper of [...this.sleepers].sort((a, b) => a.at - b.at)) {
      if (sleeper.at > until) break;
      this.current = sleeper.at;
      sleeper.wake();
    }
    this.current = until;
  }

  /** What `work` gives, or a failure as soon as anything sleeps on this clock meanwhile: it waited for nothing. */
  async withoutSleeping<T>(work: () => Promise<T>): Promise<T> {
    let watcher: ((ms: number) => void) | undefined;
    const slept = new Promise<never>((_, reject) => {
      watcher = (ms) => reject(new Error(`something slept ${ms} ms on the clock`));
      this.sleepWatchers.push(watcher);
    });
    try {
      return await Promise.race([work(), slept]);
    } finally {
      this.sleepWatchers = this.sleepWatchers.filter((w) => w !== watcher);
    }
  }
}
