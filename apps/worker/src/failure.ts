import type { Job } from "bullmq";
import { isVendorError, isVendorRateLimitError } from "@funnelsync/vendor-http";

export type FailureKind = "rateLimited" | "permanent" | "lastAttempt" | "retry";

/**
 * The one place that decides what a failed attempt means for the job, by the error's class: the
 * VendorError family says itself whether a retry can help (`retryable`; a client's ValidationError for
 * bad arguments never can). Anything else (a crash, Postgres or Redis away) is retried with backoff.
 * The family's guards match by class, and by name only for a second copy of vendor-http (see there).
 */
export function classifyFailure(err: unknown, job: Pick<Job, "attemptsMade" | "opts">): FailureKind {
  if (isVendorRateLimitError(err)) return "rateLimited";
  if (isVendorError(err) && !err.retryable) return "permanent";
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1) ? "lastAttempt" : "retry";
}

export function vendorStatusOf(err: unknown): number | undefined {
  return isVendorError(err) ? err.status : undefined;
}
