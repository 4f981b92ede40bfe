export { apiIdOf } from "./apiId";
export { createVendorHttp, pauseVendor, retryAfterHeaderMs, retryDelayMs, shouldRetryInline } from "./createVendorHttp";
export type { Admission, GateRelease, RequestGate, VendorCallObservation, VendorHttpOptions } from "./createVendorHttp";
export {
  ValidationError,
  VendorError,
  VendorRateLimitError,
  createVendorError,
  isRetryableStatus,
  isVendorError,
  isVendorRateLimitError,
} from "./errors";
export type { Vendor } from "./errors";
export type { RateLimit, VendorLimits } from "./limits";
