/** A bad argument to a Loops client call, raised before any request is sent: vendor-http's one class. */
export { ValidationError } from "@funnelsync/vendor-http/errors";

/**
 * A webhook that cannot be shown to come from Loops: a missing header, no matching signature, or a
 * timestamp outside the tolerance (a replay). Ingest answers it as unauthenticated.
 */
export class LoopsWebhookVerificationError extends Error {
  override name = "LoopsWebhookVerificationError";
}

/** A correctly signed webhook whose body is not JSON or not a Loops event. Ingest answers it as malformed. */
export class LoopsWebhookPayloadError extends Error {
  override name = "LoopsWebhookPayloadError";
}
