import { Redis, type RedisOptions } from "ioredis";

/** Who holds the connection; each role fails and reconnects as its work needs. */
export type RedisRole = "ingest" | "worker" | "operator";

/**
 * Workers block on Redis and must retry forever (`maxRetriesPerRequest: null`). Ingest must fail
 * fast while Redis is down, so that it answers 503 instead of holding Kommo's request past its 2 s
 * window (`enableOfflineQueue: false`); both reconnect by themselves when Redis returns. An
 * operator's command connects when asked (`lazyConnect`) and reports an outage instead of retrying
 * forever: a later drop reconnects a few times, then its commands fail.
 */
const ROLE_OPTIONS: Record<RedisRole, RedisOptions> = {
  worker: { maxRetriesPerRequest: null, enableOfflineQueue: true, connectTimeout: 2_000, retryStrategy: (times) => Math.min(200 * times, 2_000) },
  ingest: { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000, retryStrategy: (times) => Math.min(200 * times, 2_000) },
  operator: {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 3_000,
    retryStrategy: (times) => (times > 5 ? null : Math.min(200 * times, 1_000)),
  },
};

export function createRedisConnection(url: string, role: RedisRole): Redis {
  return new Redis(url, ROLE_OPTIONS[role]);
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
