import type { VendorLimits } from "@funnelsync/vendor-http";

/**
 * Kommo allows 7 requests in any second per integration (whether it keys by IP, token or account is
 * unconfirmed, so every process sharing one token must share this budget). A 429 carries
 * `retry_after` in its body; repeated 429s block the IP with 403 on every call, webhooks included.
 * @see https://developers.kommo.com/docs/limitations
 */
export const KOMMO_LIMITS = {
  default: { max: 7, perMs: 1_000 },
  /**
   * Reconciling and health checks count in the same window but take a slot only while two are free,
   * so a live sync never waits more than one call's slot behind them.
   */
  background: { max: 6, perMs: 1_000, window: "default" },
} as const satisfies VendorLimits;

/**
 * Most entities per list page (`limit`; more → 422 "Limit 250 per page") and per batch write.
 * @see https://developers.kommo.com/docs/limitations
 */
export const KOMMO_MAX_PAGE = 250;
