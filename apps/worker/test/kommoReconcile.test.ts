import { resolve } from "node:path";
import { loadConfig } from "@funnelsync/config";
import { createDb, type Db } from "@funnelsync/db";
import { KommoClient } from "@funnelsync/kommo-client";
import { createLogger } from "@funnelsync/logger";
import { startKommoSimulator, type KommoSimulator } from "@funnelsync/simulators";
import { VendorRateLimitError } from "@funnelsync/vendor-http";
import { REPO_ROOT } from "../../../test/harness";
import { TEST_DATABASE_URL } from "../../../test/testEnv";
import { KommoWatch } from "../src/kommoWatch";
import { kommoReconcile } from "../src/processors/kommoReconcile";
import type { WorkerDeps } from "../src/processors/types";

describe("kommo.reconcile when live work holds Kommo's budget", () => {
  let sim: KommoSimulator;
  let db: Db;
  beforeEach(async () => {
    sim = await startKommoSimulator({ rateLimit: { max: 1_000, perMs: 1_000 } });
    db = createDb(TEST_DATABASE_URL);
  });
  afterEach(async () => {
    await sim.close();
    await db.close();
  });

  it("ends the poll without failing or advancing the watermark, and the next poll reads the same window", async () => {
    let busy = false;
    const gate = async (_vendor: string, limitKey: string) => {
      if (busy && limitKey === "background") throw new VendorRateLimitError("kommo", 60_000);
    };
    const kommo = new KommoClient({ baseUrl: sim.url, accessToken: sim.state.accessToken, http: { gate, retryBaseDelayMs: 0 } });
    const logger = createLogger({ service: "test", level: "error" });
    const kommoWatch = new KommoWatch({ kommo, db, logger, webhookSecret: undefined, publicUrl: undefined, manageWebhook: false });
    const enqueued: string[] = [];
    const config = loadConfig({ env: { FUNNELSYNC_CONFIG: resolve(REPO_ROOT, "funnelsync.yaml") }, allowSimulators: true });
    const deps = {
      db, kommo, logger, kommoWatch, mapping: config.mapping, now: () => new Date(),
      enqueue: async (jobs: Array<{ name: string }>) => void enqueued.push(...jobs.map((j) => j.name)),
    } as unknown as WorkerDeps; // what the reconcile processor uses
    const job = { id: "test-reconcile", data: {} } as Parameters<typeof kommoReconcile>[0];

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
});
