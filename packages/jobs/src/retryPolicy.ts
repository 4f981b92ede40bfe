/** Attempts per job before it fails for good and waits in the dashboard for a replay. */
export const JOB_ATTEMPTS = 7;
/** The first retry waits this long; each later one four times longer (1 s, 4 s, 16 s, 64 s …). */
export const FIRST_RETRY_DELAY_MS = 1_000;
/**
 * Completed jobs stay this long so their ids keep deduplicating: Kommo retries for about 1 h 35 m
 * and can deliver late, Loops redelivers for longer.
 */
export const DEDUPE_WINDOW_MS = 48 * 60 * 60 * 1000;
/** Failed jobs stay for replay this long. */
export const FAILED_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/** Exponential backoff with ±25 % jitter, so a storm of failures does not come back in lockstep. */
export function backoffDelayMs(attemptsMade: number, random: () => number = Math.random): number {
  const base = FIRST_RETRY_DELAY_MS * 4 ** Math.max(0, attemptsMade - 1);
  return Math.round(base * (0.75 + random() * 0.5));
}

/** BullMQ's per-job options for every job we add. The worker registers the `fourfold` strategy. */
export const DEFAULT_JOB_OPTIONS = {
  attempts: JOB_ATTEMPTS,
  backoff: { type: "fourfold" },
  removeOnComplete: { age: DEDUPE_WINDOW_MS / 1000 },
  removeOnFail: { age: FAILED_RETENTION_MS / 1000 },
} as const;
