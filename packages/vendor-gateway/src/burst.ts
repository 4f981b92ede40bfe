/**
 * How much Kommo-change work is on its way, in every worker process. The batched calls (Kommo's
 * pages, Moosend's bulk subscribes) wait to fill only while it says more is coming. The worker,
 * which owns the queues, implements it.
 */
export interface BurstSignal {
  /**
   * Subscribers likely to reach the Moosend pool (shared by every process) within `horizonMs`, beyond
   * those already waiting there (`waitingHere` is this process's share of them).
   */
  subscribersComing(horizonMs: number, waitingHere: number): Promise<number>;
  /** Kommo changes queued, not yet started, per process (as last seen: it never waits on Redis). */
  changesQueued(): number;
}
