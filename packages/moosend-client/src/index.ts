export { MoosendClient } from "./moosendClient";
export type {
  MoosendCampaign,
  MoosendCampaignActivity,
  MoosendClientOptions,
  MoosendList,
  MoosendMemberListStatus,
  MoosendSubscriber,
  MoosendSubscriberInput,
  MoosendSubscriberStatus,
} from "./moosendClient";
export { MOOSEND_LIMITS, MOOSEND_MAX_BATCH, MOOSEND_THROTTLE_WINDOW_MS } from "./limits";
export type { MoosendLimitKey } from "./limits";
export { MoosendWebhookError, ValidationError } from "./errors";
export { parseMoosendWebhook } from "./parseMoosendWebhook";
export type { MoosendWebhook } from "./parseMoosendWebhook";
export { parseMoosendDate } from "./parseMoosendDate";
