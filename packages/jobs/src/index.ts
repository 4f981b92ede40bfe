export { isJobName, isValidJobData, jobCatalog, jobIdFor, parseJobData, QUEUES, queueNameFor } from "./jobCatalog";
export type { JobData, JobName, QueueKey } from "./jobCatalog";
export {
  backoffDelayMs,
  DEDUPE_WINDOW_MS,
  DEFAULT_JOB_OPTIONS,
  FAILED_RETENTION_MS,
  FIRST_RETRY_DELAY_MS,
  JOB_ATTEMPTS,
  JOB_BACKOFF,
} from "./retryPolicy";
export type { Backoff } from "./retryPolicy";
export { createRedisConnection, redisAnswers, type RedisRole } from "./redisConnection";
export { hashTaggedPrefix, KEY_PREFIX } from "./keyPrefix";
export { onShutdown, SHUTDOWN_DEADLINE_MS } from "./onShutdown";
export type { ShutdownStep } from "./onShutdown";
export { openJobQueues } from "./jobQueues";
export type { JobQueues, JobRequest, OpenJobQueuesOptions } from "./jobQueues";
