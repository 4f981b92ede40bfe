export { apiIdOf } from "./apiId";
export { createVendorHttp, pauseVendor, retryAfterHeaderMs, retryDelayMs } from "./createVendorHttp";
export type { Admission, GateOutcome, GateRelease, RequestGate, VendorCallObservation, VendorHttpOptions } from "./createVendorHttp";
export {
  ValidationError,
  VendorBlockedError,
  VendorError,
  VendorRateLimitError,
  createVendorError,
  isVendorError,
  isVendorRateLimitError,
} from "./errors";
export type { Vendor } from "./errors";
export type { RateLimit, VendorLimits } from "./limits";
