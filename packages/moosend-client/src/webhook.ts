// `@funnelsync/moosend-client/webhook`: what ingest needs to read a Moosend webhook, without the API
// client (and so without axios).
export { MoosendWebhookError } from "./errors";
export { parseMoosendWebhook } from "./parseMoosendWebhook";
export type { MoosendWebhook } from "./parseMoosendWebhook";
