import { KOMMO_MAX_PAGE } from "@funnelsync/kommo-client";
import { MOOSEND_LIMITS, MOOSEND_MAX_BATCH } from "@funnelsync/moosend-client";

/** Kommo changes a second from which they come as a burst. */
const BURST_CHANGES_PER_SECOND = 50;

/**
 * Every number the worker's batching under a burst depends on, each with why it is what it is. The
 * vendors' own limits are not here: each client defines its vendor's once. `npm run bench -- burst
 * burst2 burst4` is the measure of a change here.
 */
export const TUNING = {
  kommoReader: {
    /** Lead look-ups arriving faster than this (per second) are a burst: single reads would spend Kommo's 7 calls a second on near-empty pages. */
    burstLeadsPerSecond: BURST_CHANGES_PER_SECOND,
    /**
     * Longest a short page of leads waits for more while a burst arrives. A whole second: at 50 leads a
     * second and up, shorter waits send pages of a few dozen, two Kommo calls each, against 7 a second;
     * and a worker busy taking in a burst can pause its look-ups for a few hundred milliseconds.
     */
    fillMaxMs: 1_000,
    /** How often a filling page looks again: a burst brings a look-up every few milliseconds. */
    fillPollMs: 10,
  },
  moosendSubscriptions: {
    /**
     * Longest a bulk call that is not full waits while enough subscribers to fill it are on their way
     * (a half-empty call spends a whole call of the burst's budget, 2 per 10 s).
     */
    fillMaxMs: 5_000,
    /** How often a filling bulk call looks again at the pool and at what is coming. */
    fillPollMs: 150,
    /** How long a process holds a list's drain without renewing it: a process that died hands it on within this. */
    leadMs: 10_000,
    /** How often a process whose callers wait, but which does not drain their list, looks whether it may. */
    followPollMs: 250,
    /**
     * Up to this many waiting go as single `subscribe` calls while singles are free, keeping the bulk
     * calls for a burst; half the single window, leaving the rest for re-activations (singles only).
     */
    singlesForAFew: 5,
  },
  kommoReconcile: {
    /**
     * Kommo changes arriving at least this fast (a burst, as the Kommo reader sees one) have Kommo's
     * budget before the events feed: reading the feed is what the reconciler can put off, and a burst
     * of live changes shows the webhook works. The reader's own threshold, since it is the same burst.
     */
    yieldWhileChangesPerSecond: BURST_CHANGES_PER_SECOND,
    /**
     * Longest the feed's reading is put off (from where it was last read to): under a burst that never
     * ends, changes whose webhooks were lost are still found within this.
     */
    yieldAtMostSeconds: 900,
  },
  burstSignal: {
    /** A process's report older than this is from one that stopped; it no longer counts. */
    reportLifetimeMs: 2_000,
    /** How old a reading may be before it is taken again: decisions made every 150 ms or so need no fresher. */
    readEveryMs: 100,
  },
  consumers: {
    /**
     * Kommo-change jobs in flight per process. High on purpose: jobs mostly wait (on the shared rate
     * limits and on each other's batched calls), and the more wait together, the larger each batch
     * call. This lets both of a Moosend window's bulk calls fill up (2 × 1,000 subscribers) while more
     * are read.
     */
    kommoConcurrency: MOOSEND_LIMITS.subscribeMany.max * MOOSEND_MAX_BATCH + KOMMO_MAX_PAGE,
    /**
     * BullMQ workers sharing that concurrency. A BullMQ worker fetches jobs one Redis round trip at a
     * time and starts none while more are waiting, until its concurrency is full: one worker of 2,250
     * held the first jobs of a burst for most of a second. Several smaller ones fetch side by side and
     * each starts work after a few hundred.
     */
    kommoFetchers: 8,
  },
} as const;
