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

/** How one kind of retry waits: the first wait, each later one four times longer, jittered and capped. */
export interface Backoff {
  firstDelayMs: number;
  /** The share of each wait drawn at random either way (0.25: ±25 %). */
  jitter: number;
  maxDelayMs?: number;
}

/** A job's waits between attempts: 1 s, 4 s, 16 s, 64 s … ±25 %. */
export const JOB_BACKOFF: Backoff = { firstDelayMs: FIRST_RETRY_DELAY_MS, jitter: 0.25 };

/**
 * The wait before retry number `retry` (1 for the first): the one backoff formula, for the queue's
 * attempts and the vendor clients' quick retries alike. The jitter keeps a storm of failures from
 * coming back in lockstep.
 */
export function backoffDelayMs(retry: number, backoff: Backoff = JOB_BACKOFF, random: () => number = Math.random): number {
  const base = backoff.firstDelayMs * 4 ** Math.max(0, retry - 1);
  const jittered = Math.round(base * (1 - backoff.jitter + random() * 2 * backoff.jitter));
  return Math.min(backoff.maxDelayMs ?? Infinity, jittered);
}

/** BullMQ's per-job options for every job we add. The worker registers the `fourfold` strategy. */
export const DEFAULT_JOB_OPTIONS = {
  attempts: JOB_ATTEMPTS,
  backoff: { type: "fourfold" },
  removeOnComplete: { age: DEDUPE_WINDOW_MS / 1000 },
  removeOnFail: { age: FAILED_RETENTION_MS / 1000 },
} as const;
