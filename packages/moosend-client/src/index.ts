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
export { ValidationError } from "./errors";
export * from "./webhook";
export { parseMoosendDate } from "./parseMoosendDate";
