/** At most `max` requests in any window of `perMs` milliseconds (a sliding window, as vendors count). */
export interface RateLimit {
  max: number;
  perMs: number;
  /**
   * Count in another limit's window (its key) instead of one of its own: with a smaller `max`, these
   * requests take a slot only while the other limit's traffic leaves room.
   */
  window?: string;
}

/** Each client defines its vendor's limits once, keyed by the `limitKey` its requests name. */
export type VendorLimits = Record<string, RateLimit>;
