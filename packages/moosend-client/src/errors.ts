/** A bad argument to a Moosend client call, raised before any request is sent. */
export class ValidationError extends Error {
  override name = "ValidationError";
}

/** A body that is not a Moosend automation webhook: ingest answers it as malformed and enqueues nothing. */
export class MoosendWebhookError extends Error {
  override name = "MoosendWebhookError";
}
