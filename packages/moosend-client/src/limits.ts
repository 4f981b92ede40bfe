import type { VendorLimits } from "@funnelsync/vendor-http";

/**
 * Moosend's limits, per API key and per endpoint, each over 10 s (not per second). `removeMany` has
 * no published limit: it counts like `deleteMany`. `read` (view, find, lists) has none either; 10 per
 * second is our own courtesy, not Moosend's rule.
 * @see https://docs.moosend.com/developers/api-documentation/en/index-en.html#api-rate-limiting
 */
export const MOOSEND_LIMITS = {
  subscribe: { max: 10, perMs: 10_000 },
  subscribeMany: { max: 2, perMs: 10_000 },
  unsubscribe: { max: 20, perMs: 10_000 },
  remove: { max: 40, perMs: 10_000 },
  removeMany: { max: 8, perMs: 10_000 },
  delete: { max: 40, perMs: 10_000 },
  deleteMany: { max: 8, perMs: 10_000 },
  read: { max: 10, perMs: 1_000 },
} as const satisfies VendorLimits;

export type MoosendLimitKey = keyof typeof MOOSEND_LIMITS;

/**
 * How long a throttled call waits when Moosend says nothing more: one window of its limits. Its
 * throttling answer carries no `Retry-After` (undocumented).
 * @see https://docs.moosend.com/developers/api-documentation/en/index-en.html#api-rate-limiting
 */
export const MOOSEND_THROTTLE_WINDOW_MS = 10_000;

/**
 * Most subscribers `subscribe_many` (and so `remove_many`) takes in one call.
 * @see https://docs.moosend.com/developers/api-documentation/en/index-en.html#add-multiple-subscribers
 */
export const MOOSEND_MAX_BATCH = 1000;
