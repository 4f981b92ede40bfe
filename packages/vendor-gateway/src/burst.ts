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
  /**
   * Whether Kommo changes come at `perSecond` or faster: started in this process lately, or queued
   * (not started) in any, per process. As last seen: it never waits on Redis.
   */
  changesArriving(perSecond: number): boolean;
}
