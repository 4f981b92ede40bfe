import type { Redis } from "ioredis";
import type { Config, RecordsConfig } from "@funnelsync/config";
import { createDb, type Db } from "@funnelsync/db";
import { createRedisConnection, openJobQueues, type JobQueues } from "@funnelsync/jobs";
import { createVendorGateway, type KommoGateway, type LoopsGateway, type MoosendGateway, type RedisGate, type VendorGateway } from "@funnelsync/vendor-gateway";

/**
 * What the commands work with, opened on first use: `history` never touches Redis and `config check`
 * never touches Postgres. Vendors are reached through the worker's gateway, on the same Redis
 * rate-limit windows (same prefix, same account keys), so a backfill running next to a busy worker
 * never pushes Kommo past its 7 requests a second.
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
  kommo(): Promise<KommoGateway>;
  /** Undefined when Moosend has no credentials (allowed only when the mapping does not use it). */
  moosend(): Promise<MoosendGateway | undefined>;
  loops(): Promise<LoopsGateway | undefined>;
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
  let gateway: Promise<VendorGateway> | undefined;

  const getDb = () => (db ??= createDb(config.databaseUrl, { hashKey: config.hashKey }));
  const getRedis = () => (redis ??= connectRedis(config.redisUrl));
  const getGateway = () =>
    (gateway ??= getRedis().then((client) =>
      createVendorGateway({
        redis: client,
        prefix,
        credentials: { kommo: config.kommo, moosend: config.moosend, loops: config.loops },
        // Postgres is opened only by a command whose vendor calls need it.
        db: {
          get consent() {
            return getDb().consent;
          },
          get memberships() {
            return getDb().memberships;
          },
          get kommoRecords() {
            return getDb().kommoRecords;
          },
        },
        gate: { maxWaitMs: GATE_MAX_WAIT_MS },
      }),
    ));

  return {
    config,
    prefix,
    db: getDb,
    redis: getRedis,
    gate: async () => (await getGateway()).gate,
    queues: () => (queues ??= getRedis().then((connection) => openJobQueues(connection, { prefix }))),
    async kommo() {
      const vendors = await getGateway();
      if (!vendors.has("kommo")) throw new Error("Kommo has no credentials (KOMMO_BASE_URL, KOMMO_ACCESS_TOKEN)");
      return vendors.kommo;
    },
    async moosend() {
      const vendors = await getGateway();
      return vendors.has("moosend") ? vendors.moosend : undefined;
    },
    async loops() {
      const vendors = await getGateway();
      return vendors.has("loops") ? vendors.loops : undefined;
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
      const vendors = await opened(gateway);
      if (vendors) await step("vendor gateway", () => vendors.close());
      const openQueues = await opened(queues);
      if (openQueues) await step("queues", () => openQueues.close());
      const client = await opened(redis);
      if (client) await step("redis", () => client.quit());
      if (db) await step("postgres", () => db!.close());
      if (failures.length) throw new Error(`close: ${failures.join("; ")}`);
    },
  };
}
