export type Vendor = "kommo" | "moosend" | "loops";

/**
 * A vendor answered with an error, or did not answer at all. `status` is undefined when no response
 * arrived (timeout, reset, refused). `retryable` says whether trying the same request again can help.
 * `body` is the vendor's answer, trimmed; it never holds our credentials (they travel in headers or
 * query parameters, never in what the vendor sends back).
 */
export class VendorError extends Error {
  override name = "VendorError";
  constructor(
    message: string,
    readonly vendor: Vendor,
    readonly status: number | undefined,
    readonly retryable: boolean,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** HTTP 429, or a throttling answer in the body (Moosend's `{"Code":429}`). The queue waits `retryAfterMs`. */
export class VendorRateLimitError extends VendorError {
  override name = "VendorRateLimitError";
  constructor(vendor: Vendor, readonly retryAfterMs: number, status?: number, body?: unknown) {
    super(`${vendor}: rate limited, retry in ${retryAfterMs} ms`, vendor, status, true, body);
  }
}

/**
 * The vendor refuses every call until further notice (Kommo's IP block after repeated 429s, which
 * only its support lifts). Like a rate limit the work waits without spending an attempt, and looks
 * again after `retryAfterMs`; meanwhile the gate lets at most one probe call through now and then.
 */
export class VendorBlockedError extends VendorRateLimitError {
  override name = "VendorBlockedError";
  constructor(vendor: Vendor, retryAfterMs: number, status?: number, body?: unknown) {
    super(vendor, retryAfterMs, status, body);
    this.message = `${vendor}: blocked (answered 403 to every call until lifted), checking again in ${retryAfterMs} ms`;
  }
}

/**
 * A bad argument to a client call (an id that is not a positive integer, an address without "@"),
 * raised before any request is sent. Nothing the vendor does can change the answer: never retried.
 */
export class ValidationError extends VendorError {
  override name = "ValidationError";
  constructor(vendor: Vendor, detail: string) {
    super(`${vendor}: ${detail}`, vendor, undefined, false);
  }
}

const RATE_LIMIT_NAMES = new Set(["VendorRateLimitError", "VendorBlockedError"]);
const VENDOR_ERROR_NAMES = new Set(["VendorError", "ValidationError", ...RATE_LIMIT_NAMES]);

/**
 * By class first. By name (with the `vendor` field) as well, as BullMQ matches its UnrecoverableError:
 * the worker judges errors thrown inside the client packages, and should npm ever give a client its
 * own nested copy of this package (a version range the root's copy does not satisfy), `instanceof`
 * alone would take every vendor error for a crash and retry it.
 */
export function isVendorError(err: unknown): err is VendorError {
  return err instanceof VendorError || (err instanceof Error && VENDOR_ERROR_NAMES.has(err.name) && "vendor" in err);
}

export function isVendorRateLimitError(err: unknown): err is VendorRateLimitError {
  return err instanceof VendorRateLimitError || (isVendorError(err) && RATE_LIMIT_NAMES.has(err.name));
}

/** Whether a status is worth trying again: timeouts, conflicts with in-flight state, and server errors. */
export function isRetryableStatus(status: number | undefined): boolean {
  return status === undefined || status === 408 || status === 425 || status >= 500;
}

const MAX_BODY_CHARS = 2_000;

/** Keeps what a vendor said small enough for a log line, a job's failure reason or an outcome row. */
export function trimBody(body: unknown): unknown {
  if (body === undefined || body === null || body === "") return undefined;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  if (text.length <= MAX_BODY_CHARS) return body;
  return `${text.slice(0, MAX_BODY_CHARS)}…`;
}

/** The single place that turns a vendor's answer into the right error class. */
export function createVendorError(input: {
  vendor: Vendor;
  status: number | undefined;
  what: string;
  detail?: string;
  body?: unknown;
  retryAfterMs?: number;
  retryable?: boolean;
}): VendorError {
  const body = trimBody(input.body);
  if (input.retryAfterMs !== undefined) {
    return new VendorRateLimitError(input.vendor, input.retryAfterMs, input.status, body);
  }
  const answered = input.status === undefined ? "got no answer" : `answered ${input.status}`;
  const message = `${input.vendor}: ${input.what} ${answered}${input.detail ? `: ${input.detail}` : ""}`;
  return new VendorError(message, input.vendor, input.status, input.retryable ?? isRetryableStatus(input.status), body);
}
