import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO_ROOT, sampleMemoryOf, startWorkerProcesses } from "../lib/apps";
import { EventTracker, moosendSubscribed } from "../lib/eventTracker";
import { PIPELINE_ID, seedLeads } from "../lib/kommoEvents";
import { figure } from "../lib/report";
import { LISTS, MAPPINGS, abortable, appEnv, type Scenario } from "../lib/scenario";
import { jobCounts, resetState } from "../lib/services";
import { round } from "../lib/stats";
import { VENDOR_LATENCY_MS, callCounts, moosendTimeline, startVendors, throttles } from "../lib/vendors";
import { vendorLimitedMinimum, workers429s } from "./burst";

/** Runs `npx funnelsync backfill` as an operator would, its output in `logPath`; resolves with how it ended. */
function runBackfillCli(env: Record<string, string>, logPath: string, signal: AbortSignal): Promise<{ code: number | null; signal: string | null }> {
  const fd = openSync(logPath, "a");
  const child = spawn("npx", ["--no", "funnelsync", "backfill", "--pipeline", String(PIPELINE_ID)], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  const kill = () => child.kill("SIGKILL");
  signal.addEventListener("abort", kill, { once: true });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, exitSignal) => {
      signal.removeEventListener("abort", kill);
      resolve({ code, signal: exitSignal });
    });
  });
}

/**
 * 100,000 leads (10,000 quick) in "New lead" in the Kommo simulator, then `npx funnelsync backfill
 * --pipeline 5001` with the Moosend-only mapping, beside one worker process: timed from the backfill's
 * first Kommo request until every lead's contact is subscribed to the stage's list, against the
 * least time Kommo's pages (the backfill's and the worker's, 7 per second) and Moosend's bulk windows
 * (2 subscribe_many of 1,000 per 10 s) allow.
 */
export const backfillScenario: Scenario = {
  name: "backfill",
  describe: "`npx funnelsync backfill` of 100,000 leads: drain vs the bound of Kommo's pages and Moosend's bulk windows, 429s, worker RSS",
  hardLimitMs: (quick) => (quick ? 8 : 30) * 60_000,
  async run(ctx) {
    const count = ctx.quick ? 10_000 : 100_000;
    await resetState();
    const vendors = await startVendors();
    ctx.defer(() => vendors.close());
    const bound = vendorLimitedMinimum(count, vendors.moosend.limits.subscribeMany, {
      callsPerPage: 3,
      how: "list reads (the backfill's page of leads; the worker's leads with contacts, then those contacts)",
    });
    const capMs = Math.max(60_000, 2 * bound.chainedMs);

    ctx.progress(`backfill: seeding ${count} leads with contacts in the Kommo simulator`);
    const seedStarted = performance.now();
    const leads = await seedLeads(vendors.kommo, count, { idBase: 60_000_000, tag: "backfill" });
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    const env = appEnv(vendors.env, MAPPINGS.moosendOnly);
    const [worker] = await startWorkerProcesses(env, ctx.logDir, 1, ctx.defer);
    const memory = sampleMemoryOf([worker!.pid]);

    const tracker = new EventTracker(vendors.log, ["moosend.subscribe"], [moosendSubscribed(LISTS.newLead)]);
    const spawnedAt = performance.now();
    for (const lead of leads) tracker.sent(lead, spawnedAt);
    ctx.progress(`backfill: npx funnelsync backfill --pipeline ${PIPELINE_ID}; waiting up to ${round(capMs / 1000, 0)} s for every subscribe (bound ${round(bound.chainedMs / 1000, 1)} s)`);
    let cliEndedAt: number | undefined;
    const cli = runBackfillCli(env, join(ctx.logDir, "backfill-cli.log"), ctx.signal).then((how) => {
      cliEndedAt = performance.now();
      return how;
    });

    let progressAt = spawnedAt;
    for (;;) {
      const done = tracker.update();
      const now = performance.now();
      if (done === count || now - spawnedAt > capMs || ctx.signal.aborted) break;
      if (now - progressAt > 30_000) {
        ctx.progress(`backfill: ${done}/${count} subscribed after ${round((now - spawnedAt) / 1000, 0)} s`);
        progressAt = now;
      }
      await sleep(250);
    }
    const cliExit = await cli;
    abortable(ctx.signal);
    const synced = tracker.update();
    const drained = synced === count;
    const rss = memory.stop().perProcess[0]!;
    const requests = vendors.log;
    // The backfill's pages filter by pipeline; the worker's reads by lead id.
    const pages = requests.filter((r) => r.vendor === "kommo" && r.entry.path === "/api/v4/leads" && (r.entry.query.filter as { pipeline_id?: unknown } | undefined)?.pipeline_id !== undefined);
    // The clock starts when the backfill's first Kommo request left (its answer, less the simulated latency).
    const firstRequestAt = (pages[0]?.finishedAt ?? spawnedAt + VENDOR_LATENCY_MS) - VENDOR_LATENCY_MS;
    const doneTimes = tracker.events.map((e) => e.doneAt).filter((t): t is number => t !== undefined);
    const lastDone = doneTimes.length ? Math.max(...doneTimes) : firstRequestAt;
    const drainMs = drained ? lastDone - firstRequestAt : null;
    const elapsedMs = performance.now() - firstRequestAt;
    const rate = doneTimes.length / (elapsedMs / 1000);
    const calls = callCounts(requests);
    const limited = throttles(requests);
    const peakRss = Math.max(rss.peakRssMb ?? 0, rss.hwmMb ?? 0);
    const s = `backfill ${count}`;
    return {
      figures: [
        figure(s, "time to drain (from the backfill's first Kommo request)", drainMs === null ? null : drainMs / 1000, "s", {
          digits: 1,
          ...(drainMs === null && { shown: `did not drain within ${round(capMs / 1000, 0)} s (${synced}/${count} subscribed)` }),
        }),
        figure(s, "vendor-limited bound (Kommo's pages, then Moosend's bulk windows)", bound.chainedMs / 1000, "s", { digits: 1 }),
        figure(s, "drain / bound", drainMs === null ? null : drainMs / bound.chainedMs, "×", {
          digits: 2,
          ...(drainMs === null && { shown: `> ${round(capMs / bound.chainedMs, 1)} × (${round(rate, 1)} leads/s)` }),
          target: { text: "≤ 1.1 ×", met: drainMs !== null && drainMs <= 1.1 * bound.chainedMs },
        }),
        figure(s, "backfill command: start to exit (every lead enqueued)", cliEndedAt === undefined ? null : (cliEndedAt - spawnedAt) / 1000, "s", {
          digits: 1,
          ...(cliExit.code !== 0 && { shown: `failed (${cliExit.signal ?? `exit code ${cliExit.code}`}; see backfill-cli.log)` }),
        }),
        figure(s, "Kommo calls per lead", calls.kommo.calls / count, "", { digits: 4 }),
        figure(s, "429s received (all vendors)", limited.total429, "", {
          digits: 0,
          shown: `${limited.total429} (kommo ${limited.byVendor.kommo}, moosend ${limited.byVendor.moosend}${limited.kommo403 ? `; kommo 403 ${limited.kommo403}` : ""})`,
          target: { text: "0", met: limited.total429 === 0 && limited.kommo403 === 0 },
        }),
        figure(s, "worker peak RSS", peakRss || null, "MB", { digits: 0, target: { text: "< 200 MB", met: peakRss > 0 && peakRss < 200 } }),
      ],
      details: {
        leads: count,
        mapping: "bench/moosend-only.yaml",
        command: `npx funnelsync backfill --pipeline ${PIPELINE_ID}`,
        stage: "5001/6001 (Moosend list New lead)",
        clock: "from the backfill's first Kommo request to the last subscribe answered for the list",
        seedSeconds: round(seedSeconds, 1),
        capSeconds: round(capMs / 1000, 1),
        drained,
        synced,
        drainSeconds: drainMs === null ? null : round(drainMs / 1000, 2),
        cliStartupSeconds: round((firstRequestAt - spawnedAt) / 1000, 2),
        cliSeconds: cliEndedAt === undefined ? null : round((cliEndedAt - spawnedAt) / 1000, 2),
        cliExit,
        backfillPages: pages.length,
        syncRatePerSecond: round(rate, 2),
        vendorLimitedBound: bound,
        calls,
        moosendTimeline: moosendTimeline(requests, firstRequestAt),
        throttles: limited,
        worker429sFromItsMetrics: await workers429s([worker!]),
        workerMemory: { ...rss, sampledEveryMs: 250 },
        jobsAtEnd: await jobCounts(),
      },
    };
  },
};
