import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { Queue, Worker } from "bullmq";
import type { Config } from "@funnelsync/config";
import { createDb, type Db } from "@funnelsync/db";
import { backoffDelayMs, createRedisConnection, KEY_PREFIX, openJobQueues, QUEUES, redisAnswers } from "@funnelsync/jobs";
import type { Logger } from "@funnelsync/logger";
import { createVendorGateway, TUNING, type RedisGateOptions, type VendorStateChange } from "@funnelsync/vendor-gateway";
import { createAdminApp } from "./admin";
import { createDispatcher } from "./dispatch";
import { createWorkerMetrics, type WorkerMetrics } from "./metrics";
import { OutcomeRecorder } from "./outcomeRecorder";
import { KommoWatch } from "./kommoWatch";
import { processors } from "./processors";
import type { WorkerDeps } from "./processors/types";
import { RedisBurstSignal } from "./burstSignal";
import { FieldWriteEchoes } from "./engagementEcho";
import { EngagementSync } from "./engagementSync";

export interface RunningWorker {
  deps: WorkerDeps;
  db: Db;
  queues: Queue[];
  metrics: WorkerMetrics;
  adminUrl: string | undefined;
  /**
   * Lets active jobs finish (or hands them back), then closes queues, Redis, Postgres and the admin
   * server. `force` does not wait for active jobs: their locks lapse and another worker takes them.
   */
  close(options?: { force?: boolean }): Promise<void>;
}

export interface StartWorkerOptions {
  config: Config;
  logger: Logger;
  /** BullMQ and rate-limit key prefix; tests isolate themselves with a unique one. */
  prefix?: string;
  /** Kommo-event jobs in flight in this process (default `TUNING.consumers.kommoConcurrency`). */
  concurrency?: number;
  /** Start the admin HTTP server (dashboard, health, metrics) on this port; undefined = config.adminPort, null = none. */
  adminPort?: number | null;
  /** Quick in-job retries' first delay; tests set 0. */
  retryBaseDelayMs?: number;
  /** Overrides the queue's backoff between attempts; tests shorten it. */
  backoffMs?: (attemptsMade: number) => number;
  /** How often work re-checks a vendor's block, and how far apart its probes go; tests shorten them. */
  blockTiming?: Pick<RedisGateOptions, "blockedRecheckMs" | "probeEveryMs">;
}

const { kommoConcurrency: KOMMO_EVENT_CONCURRENCY, kommoFetchers: KOMMO_EVENT_FETCHERS } = TUNING.consumers;

/** How many BullMQ workers a queue gets in this process, and the concurrency of each. */
function consumersFor(queueName: string, kommoConcurrency: number): { count: number; concurrency: number } {
  // Reverse-direction jobs run one at a time: reports about one address (a hard bounce and the
  // unsubscribe that follows it) must see each other's effects to avoid duplicate notes.
  if (queueName === QUEUES.esp) return { count: 1, concurrency: 1 };
  if (queueName === QUEUES.ingest) return { count: 1, concurrency: 4 };
  if (queueName === QUEUES.maintenance) return { count: 1, concurrency: 1 };
  if (queueName === QUEUES.engagement) return { count: 1, concurrency: 8 };
  if (queueName === QUEUES.engagementFlush) return { count: 1, concurrency: 1 };
  const count = Math.min(KOMMO_EVENT_FETCHERS, kommoConcurrency);
  return { count, concurrency: Math.ceil(kommoConcurrency / count) };
}

/** Retention runs daily, at a quiet hour. */
const RETENTION_SCHEDULE = { pattern: "30 3 * * *", tz: "UTC" };

/** Kommo's rate-limit window that engagement writes take a slot of before the shared one. */
const ENGAGEMENT_SHARE = "engagement";

/** Jobs per second a queue may start: far above what the vendors' limits allow, so it only carries pauses. */
const QUEUE_PAUSE_LIMITER = { max: 100_000, duration: 1_000 };

/** One line per change of a vendor's state, from the process that saw it happen. */
function logVendorChange(logger: Logger, change: VendorStateChange): void {
  const { vendor } = change;
  if (change.kind === "paused") {
    logger.error(`worker.vendor: ${vendor} rate limited us, its calls wait ${Math.ceil(change.waitMs / 1000)} s`, { vendor, waitMs: change.waitMs });
  } else if (change.kind === "blocked") {
    logger.error(`worker.vendor: ${vendor} blocks us (403 on every call); its calls stop until a probe gets through or \`funnelsync resume ${vendor}\``, {
      vendor,
      probeEveryMs: change.probeEveryMs,
    });
  } else {
    logger.warn(`worker.vendor: ${vendor} block lifted, its calls resume`, { vendor, by: change.by });
  }
}

function required(value: string | undefined, what: string): string {
  if (!value) throw new Error(`worker: ${what} is not set (start the simulators or give credentials)`);
  return value;
}

export async function startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
  const { config, logger } = options;
  const prefix = options.prefix ?? KEY_PREFIX;
  const db = createDb(config.databaseUrl, { hashKey: config.hashKey });
  // A worker that cannot recognise erased addresses would subscribe them again.
  await db.suppressions.checkKey().catch(async (error: unknown) => {
    await db.close();
    throw error;
  });
  const redis = createRedisConnection(config.redisUrl, "worker");
  redis.on("error", (error) => logger.debug("worker.redis: connection error", { error: error.message }));

  const jobQueues = openJobQueues(redis, { prefix });
  const queues = [...jobQueues.all];

  // Unlike a CLI command, the worker needs every vendor: the mapping may send to any of them.
  const credentials = {
    KOMMO_BASE_URL: config.kommo.baseUrl,
    KOMMO_ACCESS_TOKEN: config.kommo.accessToken,
    MOOSEND_BASE_URL: config.moosend.baseUrl,
    MOOSEND_API_KEY: config.moosend.apiKey,
    LOOPS_BASE_URL: config.loops.baseUrl,
    LOOPS_API_KEY: config.loops.apiKey,
  };
  for (const [what, value] of Object.entries(credentials)) required(value, what);
  const burst = new RedisBurstSignal({ redis, prefix, queues });
  const metrics = createWorkerMetrics(() => queues, { vendorState: (vendor) => vendors.gate.state(vendor), kommo: () => kommoWatch });
  const vendors = createVendorGateway({
    redis,
    prefix,
    credentials: { kommo: config.kommo, moosend: config.moosend, loops: config.loops },
    db,
    burst,
    kommoShares: { [ENGAGEMENT_SHARE]: { max: config.mapping.engagement?.kommoCallsPerSecond ?? 3, perMs: 1_000 } },
    gate: {
      // Under a burst, jobs wait here for their vendor's window (Moosend's are 10 s long) and their
      // batched calls grow meanwhile; pausing the whole queue instead would only break the batches up.
      maxWaitMs: 60_000,
      ...options.blockTiming,
      onChange: (change) => logVendorChange(logger, change),
    },
    observe: (call) => metrics.observeVendorCall(call),
    retryBaseDelayMs: options.retryBaseDelayMs,
  });
  const { gate, kommo } = vendors;

  const kommoWatch = new KommoWatch({
    kommo,
    db,
    logger,
    webhookSecret: config.kommo.webhookSecret,
    publicUrl: config.publicUrl,
    manageWebhook: config.kommo.manageWebhook,
  });

  const engagementSettings = config.mapping.engagement;
  const engagement = engagementSettings
    ? new EngagementSync({
        settings: engagementSettings,
        db,
        kommo: vendors.kommoShare(ENGAGEMENT_SHARE, () => metrics.engagementKommoCalls.inc()),
        flushQueue: queues.find((q) => q.name === QUEUES.engagementFlush)!,
        now: () => new Date(),
      })
    : undefined;

  const deps: WorkerDeps = {
    db,
    kommo,
    moosend: vendors.moosend,
    loops: vendors.loops,
    mapping: config.mapping,
    burst,
    outcomes: new OutcomeRecorder(db),
    kommoWatch,
    logger,
    engagement,
    engagementEchoes: new FieldWriteEchoes(db.engagements),
    now: () => new Date(),
    enqueue: async (jobs) => void (await jobQueues.add(jobs)),
  };

  const backoff = options.backoffMs ?? ((attemptsMade: number) => backoffDelayMs(attemptsMade));
  const workers: Worker[] = [];
  for (const queue of queues) {
    const consumers = consumersFor(queue.name, options.concurrency ?? KOMMO_EVENT_CONCURRENCY);
    for (let i = 0; i < consumers.count; i++) {
      let worker: Worker | undefined;
      const dispatch = createDispatcher(processors, deps, metrics, () => worker!);
      worker = new Worker(queue.name, dispatch, {
        connection: redis,
        prefix,
        concurrency: consumers.concurrency,
        settings: { backoffStrategy: (attemptsMade: number) => backoff(attemptsMade) },
        // BullMQ honours `worker.rateLimit()` (a vendor's 429, see dispatch.ts) only on a worker with a
        // limiter: without one every process goes on fetching jobs. This limiter never binds by itself;
        // the vendors' limits are kept per request by the Redis gate.
        limiter: QUEUE_PAUSE_LIMITER,
        // A killed worker's jobs go back to the queue once their lock lapses (lockDuration) and a stalled
        // check runs (stalledInterval): within ~20 s instead of BullMQ's 30 s + 30 s.
        lockDuration: 10_000,
        stalledInterval: 5_000,
        // After this many stalls a job fails visibly.
        maxStalledCount: 3,
      });
      worker.on("error", (error) => logger.warn("worker.queue: error", { queue: queue.name, error: error.message }));
      // A job's lock lapsed (its process died, or its event loop was blocked past lockDuration): it runs again.
      worker.on("stalled", (jobId) => logger.warn("worker.queue: job stalled, handed back to the queue", { queue: queue.name, jobId }));
      if (queue.name === QUEUES.kommo) worker.on("active", () => burst.noteStarted());
      workers.push(worker);
    }
  }

  const espQueue = queues.find((q) => q.name === QUEUES.esp)!;
  if (config.moosend.pollSeconds > 0 && config.mapping.usesMoosend()) {
    await espQueue.upsertJobScheduler("moosend-poll", { every: config.moosend.pollSeconds * 1000 }, { name: "moosend.poll", data: {} });
  } else {
    await espQueue.removeJobScheduler("moosend-poll");
  }
  await deps.kommoWatch.checkWebhook().catch((error: unknown) => logger.warn("kommo.webhook: cannot read the webhooks", { error: (error as Error).message }));
  if (config.kommo.reconcileSeconds > 0) {
    const every = config.kommo.reconcileSeconds * 1000;
    await espQueue.upsertJobScheduler("kommo-reconcile", { every }, { name: "kommo.reconcile", data: {} });
    await deps.enqueue([{ name: "kommo.reconcile", data: { requestedAt: Date.now() } }]); // once at start, whatever the schedule's phase
  } else {
    await espQueue.removeJobScheduler("kommo-reconcile");
  }

  const maintenanceQueue = queues.find((q) => q.name === QUEUES.maintenance)!;
  if (config.retentionDays > 0) {
    await maintenanceQueue.upsertJobScheduler("retention", RETENTION_SCHEDULE, { name: "maintenance.retention", data: { retentionDays: config.retentionDays } });
  } else {
    await maintenanceQueue.removeJobScheduler("retention");
  }

  const engagementQueue = queues.find((q) => q.name === QUEUES.engagement)!;
  if (engagement && config.moosend.pollSeconds > 0 && config.mapping.usesMoosend()) {
    await engagementQueue.upsertJobScheduler("moosend-engagement-poll", { every: config.moosend.pollSeconds * 1000 }, { name: "moosend.engagementPoll", data: {} });
  } else {
    await engagementQueue.removeJobScheduler("moosend-engagement-poll");
  }

  let server: Server | undefined;
  const adminPort = options.adminPort === undefined ? config.adminPort : options.adminPort;
  if (adminPort !== null) {
    const admin = createAdminApp({
      queues,
      metrics,
      auth: config.admin,
      readOnly: config.admin.readOnly,
      checks: { redis: () => redisAnswers(redis), postgres: () => db.ping().then(() => true) },
      details: {
        kommo: async () => ((await gate.state("kommo")).blockedSince ? "blocked" : "ok"),
        kommo_webhook: () => kommoWatch.webhookState(),
      },
    });
    server = await new Promise<Server>((resolve, reject) => {
      const s = admin.listen(adminPort, "0.0.0.0", () => resolve(s));
      s.once("error", reject);
    });
  }

  let closing: Promise<void> | undefined;
  let force = false;
  const steps: Array<[string, () => Promise<unknown>]> = [
    ["workers", () => Promise.all(workers.map((w) => w.close(force)))],
    ["burst signal", async () => burst.close()],
    ["vendor gateway", () => vendors.close()],
    ["queues", () => jobQueues.close()],
    ["redis", () => redis.quit()],
    ["postgres", () => db.close()],
    ["admin", () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))],
  ];
  return {
    deps,
    db,
    queues,
    metrics,
    adminUrl: server ? `http://127.0.0.1:${(server.address() as AddressInfo).port}` : undefined,
    close: (options) =>
      (closing ??= (async () => {
        force = options?.force ?? false;
        const failures: string[] = [];
        for (const [name, step] of steps) {
          try {
            await step();
          } catch (error) {
            failures.push(`${name}: ${(error as Error).message}`);
          }
        }
        if (failures.length) throw new Error(`worker close: ${failures.join("; ")}`);
      })()),
  };
}
