import { Redis } from "ioredis";

/**
 * Redis connections for BullMQ. Workers block on Redis and must retry forever
 * (`maxRetriesPerRequest: null`); ingest must fail fast while Redis is down, so that it answers 503
 * instead of holding Kommo's request past its 2 s window (`enableOfflineQueue: false`). Both
 * reconnect by themselves when Redis returns.
 */
export function createRedisConnection(url: string, role: "ingest" | "worker"): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === "worker" ? null : 1,
    enableOfflineQueue: role === "worker",
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(200 * times, 2_000),
    lazyConnect: false,
  });
}

/** A PING that gives up quickly, for readiness checks. */
export async function redisAnswers(redis: Redis, timeoutMs = 500): Promise<boolean> {
  if (redis.status !== "ready") return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    return await Promise.race([redis.ping().then((pong) => pong === "PONG"), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
