import type { Redis } from "ioredis";
import type { Config, RecordsConfig } from "@funnelsync/config";
import { createDb, type Db } from "@funnelsync/db";
import { createRedisConnection, openJobQueues, type JobQueues } from "@funnelsync/jobs";
import { KOMMO_LIMITS, KommoClient } from "@funnelsync/kommo-client";
import { LOOPS_LIMITS, LoopsClient } from "@funnelsync/loops-client";
import { MOOSEND_LIMITS, MoosendClient } from "@funnelsync/moosend-client";
import { createRedisGate, type RedisGate } from "@funnelsync/worker";

/**
 * What the commands work with, opened on first use: `history` never touches Redis and `config check`
 * never touches Postgres. Vendor clients go through the same Redis rate-limit windows as the worker
 * (same prefix, same account keys), so a backfill running next to a busy worker never pushes Kommo
 * past its 7 requests a second.
 */
export interface Ops {
  config: Config;
  /** The Redis key prefix of the apps (`KEY_PREFIX`): their BullMQ queues and rate-limit windows. */
  prefix: string;
  db(): Db;
  redis(): Promise<Redis>;
  queues(): Promise<JobQueues>;
  /** The worker's shared rate-limit and block state in Redis. */
  gate(): Promise<RedisGate>;
  kommo(): Promise<KommoClient>;
  /** Undefined when Moosend has no credentials (allowed only when the mapping does not use it). */
  moosend(): Promise<MoosendClient | undefined>;
  loops(): Promise<LoopsClient | undefined>;
  close(): Promise<void>;
}

/** The worker gives up on a slot after 5 s and hands the job back; an operator's command can wait longer. */
const GATE_MAX_WAIT_MS = 60_000;

/** Fails at once when Redis is down at the start, instead of retrying forever like the worker. */
async function connectRedis(url: string): Promise<Redis> {
  const redis = createRedisConnection(url, "operator");
  let lastError: Error | undefined;
  redis.on("error", (error: Error) => (lastError = error)); // surfaced by connect() or by the command that failed
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot reach Redis at REDIS_URL: ${(lastError ?? (err as Error)).message}`);
  }
  return redis;
}

/** What the commands that only read our records (`history`, `consent`) work with: Postgres alone. */
export interface Records {
  db(): Db;
  close(): Promise<void>;
}

export function openRecords(config: RecordsConfig): Records {
  let db: Db | undefined;
  return {
    db: () => (db ??= createDb(config.databaseUrl, { hashKey: config.hashKey })),
    close: async () => db?.close(),
  };
}

export function openOps(config: Config, prefix: string): Ops {
  let db: Db | undefined;
  let redis: Promise<Redis> | undefined;
  let queues: Promise<JobQueues> | undefined;
  let gate: Promise<RedisGate> | undefined;

  const getRedis = () => (redis ??= connectRedis(config.redisUrl));
  const getGate = () =>
    (gate ??= getRedis().then((client) =>
      createRedisGate({
        redis: client,
        prefix,
        limits: { kommo: KOMMO_LIMITS, moosend: MOOSEND_LIMITS, loops: LOOPS_LIMITS },
        accounts: { kommo: config.kommo.baseUrl, moosend: config.moosend.baseUrl, loops: config.loops.baseUrl },
        maxWaitMs: GATE_MAX_WAIT_MS,
      }),
    ));

  return {
    config,
    prefix,
    db: () => (db ??= createDb(config.databaseUrl, { hashKey: config.hashKey })),
    redis: getRedis,
    gate: getGate,
    queues: () => (queues ??= getRedis().then((connection) => openJobQueues(connection, { prefix }))),
    async kommo() {
      const { baseUrl, accessToken } = config.kommo;
      if (!baseUrl || !accessToken) throw new Error("Kommo has no credentials (KOMMO_BASE_URL, KOMMO_ACCESS_TOKEN)");
      return new KommoClient({ baseUrl, accessToken, http: { gate: await getGate() } });
    },
    async moosend() {
      const { baseUrl, apiKey } = config.moosend;
      return baseUrl && apiKey ? new MoosendClient({ baseUrl, apiKey, http: { gate: await getGate() } }) : undefined;
    },
    async loops() {
      const { baseUrl, apiKey } = config.loops;
      return baseUrl && apiKey ? new LoopsClient({ baseUrl, apiKey, http: { gate: await getGate() } }) : undefined;
    },
    async close() {
      const failures: string[] = [];
      const step = async (name: string, run: () => Promise<unknown>) => {
        try {
          await run();
        } catch (err) {
          failures.push(`${name}: ${(err as Error).message}`);
        }
      };
      // A connection that never opened has nothing to close.
      const opened = <T>(p: Promise<T> | undefined) => p?.catch(() => undefined) ?? Promise.resolve(undefined);
      const openQueues = await opened(queues);
      if (openQueues) await step("queues", () => openQueues.close());
      const client = await opened(redis);
      if (client) await step("redis", () => client.quit());
      if (db) await step("postgres", () => db!.close());
      if (failures.length) throw new Error(`close: ${failures.join("; ")}`);
    },
  };
}
