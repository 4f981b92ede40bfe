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
export { ValidationError } from "./errors";
export { LOOPS_LIMITS, LOOPS_MAX_IDEMPOTENCY_KEY } from "./limits";
export * from "./webhook";
