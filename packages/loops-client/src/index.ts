export { LoopsClient } from "./loopsClient";
export type {
  LoopsClientOptions,
  LoopsContact,
  LoopsContactInput,
  LoopsContactKey,
  LoopsContactProperty,
  LoopsEvent,
  LoopsEventContact,
  LoopsPropertyValue,
  LoopsSendResult,
  LoopsTransactionalEmail,
  LoopsTransactionalMessage,
} from "./loopsClient";
export { LoopsWebhookPayloadError, LoopsWebhookVerificationError, ValidationError } from "./errors";
export { LOOPS_LIMITS, LOOPS_MAX_IDEMPOTENCY_KEY } from "./limits";
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
