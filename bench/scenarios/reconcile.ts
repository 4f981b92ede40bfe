import { loadConfig } from "@funnelsync/config";
import { createDb } from "@funnelsync/db";
import { FUNNELSYNC_WEBHOOK_SETTINGS, KommoClient } from "@funnelsync/kommo-client";
import { createLogger } from "@funnelsync/logger";
import { startKommoSimulator } from "@funnelsync/simulators";
import { KommoWatch, kommoReconcile, type WorkerDeps } from "@funnelsync/worker";
import { figure } from "../lib/report";
import { MAPPINGS, abortable, type Scenario } from "../lib/scenario";
import { BENCH_DATABASE_URL } from "../lib/services";
import { mean, round } from "../lib/stats";

const PERIOD_SECONDS = 300;
const DAY_SECONDS = 86_400;

/**
 * A simulated day of Kommo changes, spread evenly, read by the reconciler every 5 minutes on a
 * virtual clock (the Kommo simulator's and the worker's): the Kommo calls it makes per poll and per
 * day (the webhook's health check included), at 10,000 and 100,000 changes a day. The processor is the worker's own; only the clock and the
 * job queue (jobs are counted, not run) are the bench's.
 */
export const reconcileScenario: Scenario = {
  name: "reconcile",
  describe: "the reconciler's Kommo calls per poll and per day (10,000 and 100,000 changes a day, virtual clock)",
  hardLimitMs: () => 5 * 60_000,
  async run(ctx) {
    const rows: Array<{ changesPerDay: number; calls: number[]; jobs: number }> = [];
    for (const changesPerDay of [10_000, 100_000]) {
      let clockMs = Date.UTC(2026, 11, 1);
      const kommoSim = await startKommoSimulator({ seed: false, now: () => clockMs, rateLimit: { max: 1_000_000, perMs: 1_000 } });
      ctx.defer(() => kommoSim.close());
      const config = loadConfig({ env: { DATABASE_URL: BENCH_DATABASE_URL, FUNNELSYNC_CONFIG: MAPPINGS.full }, allowSimulators: true });
      const db = createDb(BENCH_DATABASE_URL);
      ctx.defer(() => db.close());
      const kommo = new KommoClient({ baseUrl: kommoSim.url, accessToken: kommoSim.state.accessToken });
      const webhookSecret = "bench-webhook-secret-0123456789";
      kommoSim.addWebhook(`https://sync.example.test/webhooks/kommo/${webhookSecret}`, [...FUNNELSYNC_WEBHOOK_SETTINGS]);
      const logger = createLogger({ service: "bench", level: "error" });
      let jobs = 0;
      const deps = {
        db, kommo, logger, mapping: config.mapping, now: () => new Date(clockMs),
        kommoWatch: new KommoWatch({ kommo, db, logger, webhookSecret, publicUrl: undefined, manageWebhook: false }),
        enqueue: async (added: unknown[]) => void (jobs += added.length),
      } as unknown as WorkerDeps; // what the reconcile processor uses
      const job = { id: "bench-reconcile", data: {} } as Parameters<typeof kommoReconcile>[0];
      await kommoReconcile(job, deps); // first start: the watermark begins now
      const calls: number[] = [];
      const gapMs = (DAY_SECONDS * 1000) / changesPerDay;
      let nextChangeMs = clockMs;
      for (let poll = 1; poll <= DAY_SECONDS / PERIOD_SECONDS; poll++) {
        abortable(ctx.signal);
        const pollAt = clockMs + PERIOD_SECONDS * 1000;
        for (let lead = 0; nextChangeMs < pollAt; nextChangeMs += gapMs, lead++) {
          clockMs = nextChangeMs;
          kommoSim.events.leadStatus(30_000_000 + lead, { statusId: 6002, pipelineId: 5001 }, { statusId: 6001, pipelineId: 5001 }, 0);
        }
        clockMs = pollAt;
        const before = kommoSim.requests.count();
        await kommoReconcile(job, deps);
        calls.push(kommoSim.requests.count() - before);
      }
      rows.push({ changesPerDay, calls, jobs });
      ctx.progress(`reconcile: ${changesPerDay} changes a day: ${calls.reduce((a, b) => a + b, 0)} Kommo calls in ${calls.length} polls`);
      await ctx.flush();
    }
    return {
      figures: rows.flatMap(({ changesPerDay, calls }) => [
        figure("reconcile", `Kommo calls per poll, ${changesPerDay.toLocaleString("en")} changes a day`, mean(calls) ?? null, "", { digits: 2 }),
        figure("reconcile", `Kommo calls per day, ${changesPerDay.toLocaleString("en")} changes a day`, calls.reduce((a, b) => a + b, 0), "", { digits: 0 }),
      ]),
      details: {
        periodSeconds: PERIOD_SECONDS,
        runs: rows.map(({ changesPerDay, calls, jobs }) => ({ changesPerDay, polls: calls.length, callsPerPoll: round(mean(calls) ?? 0, 2), maxCallsPerPoll: Math.max(...calls), jobsEnqueued: jobs })),
      },
    };
  },
};
