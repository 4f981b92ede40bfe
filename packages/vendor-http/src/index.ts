export { apiIdOf } from "./apiId";
export { createVendorHttp, pauseVendor, retryAfterHeaderMs, retryDelayMs, shouldRetryInline } from "./createVendorHttp";
export type { Admission, GateOutcome, GateRelease, RequestGate, VendorCallObservation, VendorHttpOptions } from "./createVendorHttp";
export {
  ValidationError,
  VendorBlockedError,
  VendorError,
  VendorRateLimitError,
  createVendorError,
  isRetryableStatus,
  isVendorBlockedError,
  isVendorError,
  isVendorRateLimitError,
} from "./errors";
export type { Vendor } from "./errors";
export type { RateLimit, VendorLimits } from "./limits";
