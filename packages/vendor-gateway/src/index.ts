export { createVendorGateway } from "./gateway";
export type { KommoGateway, LoopsGateway, MoosendGateway, VendorCredentials, VendorGateway, VendorGatewayOptions } from "./gateway";
export { createRedisGate, DEFAULT_BLOCKED_RECHECK_MS, shareOfGate } from "./redisGate";
export type { RedisGate, RedisGateOptions, VendorState, VendorStateChange, WindowState } from "./redisGate";
export type { BurstSignal } from "./burst";
export { StepSkipped } from "./stepSkipped";
export { noteVendorStatus, VendorAnswer, type Unanswered } from "./vendorAnswer";
export { TUNING } from "./tuning";
export { systemClock, type Clock } from "./clock";

// The gateway's building blocks, for tests that drive one of them on its own.
export { KommoReader } from "./kommoReader";
export { MoosendSubscriptions, type MoosendSubscriptionsOptions, type MoosendWindow } from "./moosendSubscriptions";
export { SubscriberPool } from "./subscriberPool";
export { MoosendRemovals } from "./moosendRemovals";
