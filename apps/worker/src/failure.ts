import type { Job } from "bullmq";
import { isVendorError, isVendorRateLimitError } from "@funnelsync/vendor-http";

export type FailureKind = "rateLimited" | "permanent" | "lastAttempt" | "retry";

/** Failures no retry can fix that are not a vendor's answer: a bad payload, a client's bad arguments. */
const PERMANENT_NAMES = new Set(["UnrecoverableError", "ZodError", "ValidationError"]);

/** The one place that decides what a failed attempt means for the job. */
export function classifyFailure(err: unknown, job: Pick<Job, "attemptsMade" | "opts">): FailureKind {
  if (isVendorRateLimitError(err)) return "rateLimited";
  if (isVendorError(err) && !err.retryable) return "permanent";
  if (err instanceof Error && PERMANENT_NAMES.has(err.name)) return "permanent";
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1) ? "lastAttempt" : "retry";
}

export function vendorStatusOf(err: unknown): number | undefined {
  return isVendorError(err) ? err.status : undefined;
}
