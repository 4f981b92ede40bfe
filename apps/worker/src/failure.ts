import type { Job } from "bullmq";
import { isVendorError, isVendorRateLimitError, type VendorRateLimitError } from "@funnelsync/vendor-http";

/** What an error says by its class alone, whatever attempt it ended. */
export type ErrorKind = "rateLimited" | "transient" | "permanent";

export type FailureKind = "rateLimited" | "permanent" | "lastAttempt" | "retry";

/** What a failed attempt means for its job, and what its outcome rows record. */
export interface Failure {
  kind: FailureKind;
  /** No attempt follows: the job fails for good. */
  final: boolean;
  /** The vendor's wait, when it asked us to wait: no attempt is spent. */
  rateLimit?: VendorRateLimitError;
  /** The status the vendor answered with; undefined when none answered or the error is ours. */
  vendorStatus?: number;
  reason: string;
}

/**
 * By the error's class: the VendorError family says itself whether a retry can help (`retryable`; a
 * client's ValidationError for bad arguments never can). Anything else (a crash, Postgres or Redis
 * away) may pass. The family's guards match by class, and by name only for a second copy of
 * vendor-http (see there).
 */
export function errorKind(err: unknown): ErrorKind {
  if (isVendorRateLimitError(err)) return "rateLimited";
  if (isVendorError(err) && !err.retryable) return "permanent";
  return "transient";
}

/** The one place that decides what a failed attempt means for the job. */
export function classifyFailure(err: unknown, job: Pick<Job, "attemptsMade" | "opts">): Failure {
  const message = err instanceof Error ? err.message : String(err);
  const vendorStatus = isVendorError(err) ? err.status : undefined;
  const kind = errorKind(err);
  if (kind === "rateLimited") return { kind, final: false, rateLimit: err as VendorRateLimitError, vendorStatus, reason: `rate limited: ${message}` };
  if (kind === "permanent") return { kind, final: true, vendorStatus, reason: message };
  const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  return { kind: last ? "lastAttempt" : "retry", final: last, vendorStatus, reason: message };
}

/**
 * Of several errors of one job, the one that still leaves the job a chance: a rate limit, else a
 * transient failure, else a permanent one.
 */
export function mostHopeful(errors: unknown[]): unknown {
  const rank: ErrorKind[] = ["rateLimited", "transient", "permanent"];
  return [...errors].sort((a, b) => rank.indexOf(errorKind(a)) - rank.indexOf(errorKind(b)))[0];
}
