import type { VendorLimits } from "@funnelsync/vendor-http";

/**
 * Loops allows 10 requests per second per team, across all endpoints; every answer carries
 * `x-ratelimit-limit` and `x-ratelimit-remaining`, and an excess request gets HTTP 429.
 * @see https://loops.so/docs/api-reference/intro#rate-limiting
 */
export const LOOPS_LIMITS = {
  default: { max: 10, perMs: 1_000 },
} as const satisfies VendorLimits;

/**
 * Loops keeps an `Idempotency-Key` (events/send and transactional only) for 24 h; longer keys get a 400.
 * @see https://loops.so/docs/api-reference/send-event
 */
export const LOOPS_MAX_IDEMPOTENCY_KEY = 100;
