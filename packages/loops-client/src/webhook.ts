// `@funnelsync/loops-client/webhook`: what ingest needs to verify and read a Loops webhook, without the
// API client (and so without axios).
export { LoopsWebhookPayloadError, LoopsWebhookVerificationError } from "./errors";
export { LOOPS_WEBHOOK_TOLERANCE_SECONDS, verifyLoopsWebhook } from "./verifyLoopsWebhook";
export type {
  LoopsContactEvent,
  LoopsContactIdentity,
  LoopsEmailEvent,
  LoopsEmailMetricEvent,
  LoopsEmailSourceType,
  LoopsMailingListEvent,
  LoopsOtherEvent,
  LoopsTestEvent,
  LoopsWebhookEvent,
  LoopsWebhookEventName,
} from "./loopsWebhookEvent";
