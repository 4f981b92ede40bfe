/** Time as the worker's schedulers see it; tests pass one they move by hand. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (resolving, not rejecting: waking early is no error). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(wake, ms);
      signal?.addEventListener("abort", wake, { once: true });
      function wake() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", wake);
        resolve();
      }
    }),
};
