/** At most `max` requests in any window of `perMs` milliseconds (a sliding window, as vendors count). */
export interface RateLimit {
  max: number;
  perMs: number;
}

/** Each client defines its vendor's limits once, keyed by the `limitKey` its requests name. */
export type VendorLimits = Record<string, RateLimit>;
