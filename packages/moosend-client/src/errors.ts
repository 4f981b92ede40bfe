/** A bad argument to a Moosend client call, raised before any request is sent: vendor-http's one class. */
export { ValidationError } from "@funnelsync/vendor-http/errors";

/** A body that is not a Moosend automation webhook: ingest answers it as malformed and enqueues nothing. */
export class MoosendWebhookError extends Error {
  override name = "MoosendWebhookError";
}
