import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { loadConfig } from "@funnelsync/config";
import { createDb, type Db } from "@funnelsync/db";
import { createRedisConnection, openJobQueues, type JobQueues } from "@funnelsync/jobs";
import { KommoClient } from "@funnelsync/kommo-client";
import { createLogger } from "@funnelsync/logger";
import { startKommoSimulator, type KommoSimulator } from "@funnelsync/simulators";
import { TUNING } from "@funnelsync/vendor-gateway";
import { VendorRateLimitError } from "@funnelsync/vendor-http";
import { REPO_ROOT } from "../../../test/harness";
import { TEST_DATABASE_URL, TEST_REDIS_URL } from "../../../test/testEnv";
import { RedisBurstSignal } from "../src/burstSignal";
import { KommoWatch } from "../src/kommoWatch";
import { kommoReconcile } from "../src/processors/kommoReconcile";
import type { WorkerDeps } from "../src/processors/types";

describe("kommo.reconcile when live work holds Kommo's budget", () => {
  let sim: KommoSimulator;
  let db: Db;
  let redis: ReturnType<typeof createRedisConnection>;
  let queues: JobQueues;
  let burst: RedisBurstSignal;
  beforeEach(async () => {
    sim = await startKommoSimulator({ rateLimit: { max: 1_000, perMs: 1_000 } });
    db = createDb(TEST_DATABASE_URL);
    redis = createRedisConnection(TEST_REDIS_URL, "worker");
    const prefix = `test-${randomUUID()}`;
    queues = openJobQueues(redis, { prefix });
    burst = new RedisBurstSignal({ redis, prefix, queues: queues.all });
  });
  afterEach(async () => {
    burst.close();
    await queues.byKey.kommo.obliterate({ force: true });
    await queues.close();
    await redis.quit();
    await sim.close();
    await db.close();
  });

  /** The processor's dependencies on this Kommo client, recording the names of the jobs it enqueues. */
  function reconcileDeps(kommo: KommoClient, enqueued: string[]): { deps: WorkerDeps; kommoWatch: KommoWatch } {
    const logger = createLogger({ service: "test", level: "error" });
    const kommoWatch = new KommoWatch({ kommo, db, logger, webhookSecret: undefined, publicUrl: undefined, manageWebhook: false });
    const config = loadConfig({ env: { FUNNELSYNC_CONFIG: resolve(REPO_ROOT, "funnelsync.yaml") }, allowSimulators: true });
    const deps = {
      db, kommo, logger, kommoWatch, burst, mapping: config.mapping, now: () => new Date(),
      enqueue: async (jobs: Array<{ name: string }>) => void enqueued.push(...jobs.map((j) => j.name)),
    } as unknown as WorkerDeps; // what the reconcile processor uses
    return { deps, kommoWatch };
  }
  const job = { id: "test-reconcile", data: {} } as Parameters<typeof kommoReconcile>[0];

  it("ends the poll without failing or advancing the watermark, and the next poll reads the same window", async () => {
    let busy = false;
    const gate = async (_vendor: string, limitKey: string) => {
      if (busy && limitKey === "background") throw new VendorRateLimitError("kommo", 60_000);
    };
    const kommo = new KommoClient({ baseUrl: sim.url, accessToken: sim.state.accessToken, http: { gate, retryBaseDelayMs: 0 } });
    const enqueued: string[] = [];
    const { deps, kommoWatch } = reconcileDeps(kommo, enqueued);

    await db.watermarks.set(`kommo-events:${kommo.apiId}`, JSON.stringify({ readTo: Math.floor(Date.now() / 1000) - 5, floor: 0 }));
    await sim.moveLead(sim.seeded.leads.anaWebsite, 6002);
    const before = await kommoWatch.eventsWatermark();
    busy = true;
    await expect(kommoReconcile(job, deps)).resolves.toBeUndefined();
    expect(enqueued).toEqual([]);
    expect(await kommoWatch.eventsWatermark()).toEqual(before);
    busy = false;
    await kommoReconcile(job, deps);
    expect(enqueued).toEqual(["kommo.leadStatusChanged"]);
    expect((await kommoWatch.eventsWatermark())!.readTo).toBeGreaterThan(before!.readTo);
  });

  it("puts the feed off while a burst of changes arrives, unless it was read too long ago", async () => {
    const kommo = new KommoClient({ baseUrl: sim.url, accessToken: sim.state.accessToken, http: { retryBaseDelayMs: 0 } });
    const enqueued: string[] = [];
    const { deps, kommoWatch } = reconcileDeps(kommo, enqueued);
    const change = (leadId: number) => ({ leadId, pipelineId: 5001, statusId: 6002, oldStatusId: 6001, updatedAt: 1_760_000_000, accountId: 1, fingerprint: `f${leadId}` });
    await queues.add(Array.from({ length: 60 }, (_, i) => ({ name: "kommo.leadStatusChanged" as const, data: change(70_000 + i) })));
    await burst.subscribersComing(0, 0); // the signal's first reading: 60 changes queued
    const key = `kommo-events:${kommo.apiId}`;
    await sim.moveLead(sim.seeded.leads.anaWebsite, 6002);
    const feedReads = () => sim.requests.count((r) => r.path === "/api/v4/events");

    await db.watermarks.set(key, JSON.stringify({ readTo: Math.floor(Date.now() / 1000) - 5, floor: 0 }));
    const before = await kommoWatch.eventsWatermark();
    await kommoReconcile(job, deps);
    expect([feedReads(), enqueued, await kommoWatch.eventsWatermark()]).toEqual([0, [], before]);

    // Last read beyond the limit: the feed is read all the same.
    const longAgo = Math.floor(Date.now() / 1000) - TUNING.kommoReconcile.yieldAtMostSeconds - 5;
    await db.watermarks.set(key, JSON.stringify({ readTo: longAgo, floor: 0 }));
    await kommoReconcile(job, deps);
    expect(feedReads()).toBeGreaterThan(0);
    expect(enqueued).toContain("kommo.leadStatusChanged");
    expect((await kommoWatch.eventsWatermark())!.readTo).toBeGreaterThan(longAgo);
  });
});
