import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { KOMMO_LIMITS, KOMMO_MAX_PAGE } from "@funnelsync/kommo-client";
import { MOOSEND_MAX_BATCH } from "@funnelsync/moosend-client";
import { sampleMemoryOf, startIngestProcess, startWorkerProcesses, type ChildApp } from "../lib/apps";
import { EventTracker, moosendSubscribed } from "../lib/eventTracker";
import { FormPoster } from "../lib/httpLoad";
import { STATUS, moveLead, seedLeads } from "../lib/kommoEvents";
import { figure } from "../lib/report";
import { LISTS, MAPPINGS, abortable, appEnv, type Scenario } from "../lib/scenario";
import { jobCounts, resetState } from "../lib/services";
import { round } from "../lib/stats";
import { VENDOR_LATENCY_MS, callCounts, kommoTimeline, moosendTimeline, requestKeys, startVendors, throttles } from "../lib/vendors";

interface VendorPlan {
  vendor: string;
  calls: number;
  limit: { max: number; perMs: number };
  how: string;
  /** When the plan's last call has been answered, at the vendor's limit, from the first call. */
  ms: number;
}

/**
 * The least time the vendors' limits allow for `events` stage changes on a Moosend-only stage, if
 * every call were batched as far as the APIs allow. With at most `max` calls in any `perMs`, call k
 * (from 0) can start at floor(k / max) · perMs, so the last of n ends at floor((n − 1) / max) · perMs
 * plus one answer's latency. `minimumMs` is the slowest vendor's alone (Moosend's windows);
 * `chainedMs` also lets each Moosend call wait for the Kommo reads of the people it carries, which no
 * implementation can avoid, and is the bound the target applies to. Both ignore the time to deliver
 * the webhooks, so both are lower bounds. `kommoReads` says what Kommo is asked per page of people:
 * a stage change's leads with their contacts, then those contacts (2); a backfill reads its page of
 * leads first (3).
 */
export function vendorLimitedMinimum(
  events: number,
  moosendBulk: { max: number; perMs: number },
  kommoReads: { callsPerPage: number; how: string } = { callsPerPage: 2, how: "list reads (leads with contacts, then those contacts)" },
  latencyMs = VENDOR_LATENCY_MS,
) {
  const at = (calls: number, limit: { max: number; perMs: number }) => (calls === 0 ? 0 : Math.floor((calls - 1) / limit.max) * limit.perMs + latencyMs);
  const kommoCallsFor = (people: number) => kommoReads.callsPerPage * Math.ceil(people / KOMMO_MAX_PAGE);
  const kommoCalls = kommoCallsFor(events);
  const moosendCalls = Math.ceil(events / MOOSEND_MAX_BATCH);
  const plans: VendorPlan[] = [
    {
      vendor: "kommo",
      calls: kommoCalls,
      limit: KOMMO_LIMITS.default,
      how: `${kommoReads.callsPerPage} · ceil(${events}/${KOMMO_MAX_PAGE}) ${kommoReads.how}, ${KOMMO_MAX_PAGE} per page`,
      ms: at(kommoCalls, KOMMO_LIMITS.default),
    },
    {
      vendor: "moosend",
      calls: moosendCalls,
      limit: moosendBulk,
      how: `ceil(${events}/${MOOSEND_MAX_BATCH}) subscribe_many calls`,
      ms: at(moosendCalls, moosendBulk),
    },
    { vendor: "loops", calls: 0, limit: { max: 10, perMs: 1000 }, how: "none: the stage is not mapped to Loops", ms: 0 },
  ];
  const minimumMs = Math.max(...plans.map((p) => p.ms));
  // The same plans, with each Moosend call waiting for the Kommo reads of the people it carries.
  const moosendStarts: number[] = [];
  for (let k = 0; k < moosendCalls; k++) {
    const people = Math.min(events, (k + 1) * MOOSEND_MAX_BATCH);
    const readsDone = at(kommoCallsFor(people), KOMMO_LIMITS.default);
    const windowFree = k >= moosendBulk.max ? moosendStarts[k - moosendBulk.max]! + moosendBulk.perMs : 0;
    moosendStarts.push(Math.max(readsDone, windowFree));
  }
  const chainedMs = moosendCalls === 0 ? minimumMs : Math.max(minimumMs, moosendStarts.at(-1)! + latencyMs);
  return {
    minimumMs,
    chainedMs,
    formula: `T_min = max over vendors of floor((n − 1) / max) · window + ${latencyMs} ms (one answer), n = calls of the ideal batched plan`,
    chainedFormula: `T_chained: Moosend call k (of ${MOOSEND_MAX_BATCH}) starts once the Kommo reads of its people have answered (${kommoReads.callsPerPage} · ceil(people/${KOMMO_MAX_PAGE}) calls at Kommo's limit) and its window allows; the last one's answer`,
    plans: plans.map((p) => ({ ...p, limit: `${p.limit.max} per ${p.limit.perMs / 1000} s`, seconds: round(p.ms / 1000, 2) })),
  };
}

/** Reads `funnelsync_vendor_429_total` from the worker's /metrics: the throttles it saw itself. */
export async function worker429s(adminUrl: string): Promise<Record<string, number> | string> {
  try {
    const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    const counts: Record<string, number> = {};
    for (const match of text.matchAll(/^funnelsync_vendor_429_total\{vendor="(\w+)"\} (\d+)/gm)) counts[match[1]!] = Number(match[2]);
    return counts;
  } catch (err) {
    return `unavailable: ${(err as Error).message}`;
  }
}

/** The throttles the workers saw themselves, summed over their /metrics, per vendor. */
export async function workers429s(workers: readonly ChildApp[]): Promise<Record<string, number> | string> {
  const total: Record<string, number> = {};
  for (const worker of workers) {
    const counts = await worker429s(worker.url);
    if (typeof counts === "string") return `${worker.name}: ${counts}`;
    for (const [vendor, n] of Object.entries(counts)) total[vendor] = (total[vendor] ?? 0) + n;
  }
  return total;
}

/**
 * 10,000 stage changes (1,000 quick) delivered as fast as ingest takes them, on the Moosend-only
 * mapping, to `processes` worker processes sharing the queues and the vendors' limits in Redis; timed
 * from the first webhook sent until every person is in the target list, against the least time the
 * vendors' limits allow. Capped: a backlog that does not drain in time is reported as such, with how
 * far it got.
 */
function burstWith(name: "burst" | "burst2" | "burst4", processes: number): Scenario {
  return {
    name,
    describe:
      processes === 1
        ? "a burst of stage changes: drain time vs the vendor-limited minimum, calls, 429s, worker RSS"
        : `the same burst with ${processes} worker processes: drain vs the minimum, 429s, per-process and summed RSS`,
    hardLimitMs: (quick) => (quick ? 6 : 15) * 60_000,
    async run(ctx) {
      const events = ctx.quick ? 1_000 : 10_000;
      await resetState();
      const vendors = await startVendors();
      ctx.defer(() => vendors.close());
      const minimum = vendorLimitedMinimum(events, vendors.moosend.limits.subscribeMany);
      const capMs = Math.max(60_000, 3 * minimum.chainedMs);

      ctx.progress(`${name}: seeding ${events} leads with contacts in the Kommo simulator`);
      const leads = await seedLeads(vendors.kommo, events, { idBase: 43_000_000, tag: "burst" });
      const env = appEnv(vendors.env, MAPPINGS.moosendOnly);
      const ingest = await startIngestProcess(env, ctx.logDir);
      ctx.defer(() => ingest.stop());
      const workers = await startWorkerProcesses(env, ctx.logDir, processes, ctx.defer);
      const pids = workers.map((w) => w.pid);
      const memory = sampleMemoryOf(pids);
      const idleRss = sampleMemoryOf(pids).stop();

      // Every lead moves first (state only); then the webhooks go out over 32 connections.
      const bodies: string[] = [];
      for (const lead of leads) bodies.push(await moveLead(vendors.kommo, lead.leadId, STATUS.nurture));
      const tracker = new EventTracker(vendors.log, ["moosend.subscribe"], [moosendSubscribed(LISTS.nurture)]);
      const poster = new FormPoster(`${ingest.url}${vendors.kommoHookPath}`, 32);
      ctx.defer(async () => poster.close());

      ctx.progress(`${name}: posting ${events} webhooks; waiting up to ${round(capMs / 1000, 0)} s for every subscribe (vendor-limited minimum ${round(minimum.chainedMs / 1000, 2)} s)`);
      const t0 = performance.now();
      let next = 0;
      let rejected = 0;
      let lastAckAt = t0;
      const postAll = async () => {
        for (let i = next++; i < leads.length; i = next++) {
          const event = tracker.sent(leads[i]!, performance.now());
          for (let attempt = 1; ; attempt++) {
            const answer = await poster.post(bodies[i]!);
            event.ackStatus = answer.status;
            event.ackAt = answer.ackAt;
            if (answer.status === 200 || attempt === 5) break;
            rejected++;
            await sleep(200);
          }
          lastAckAt = Math.max(lastAckAt, event.ackAt ?? 0);
        }
      };
      const posting = Promise.all(Array.from({ length: 32 }, postAll));
      let progressAt = t0;
      for (;;) {
        const done = tracker.update();
        const now = performance.now();
        if (done === events || now - t0 > capMs || ctx.signal.aborted) break;
        if (now - progressAt > 15_000) {
          ctx.progress(`${name}: ${done}/${events} synced after ${round((now - t0) / 1000, 0)} s`);
          progressAt = now;
        }
        await sleep(100);
      }
      await posting;
      abortable(ctx.signal);
      const synced = tracker.update();
      const drained = synced === events;
      const doneTimes = tracker.events.map((e) => e.doneAt).filter((t): t is number => t !== undefined);
      const lastDone = doneTimes.length ? Math.max(...doneTimes) : t0;
      const drainMs = drained ? lastDone - t0 : null;
      const elapsedMs = performance.now() - t0;
      const throughput = doneTimes.length / (elapsedMs / 1000);
      const rss = memory.stop();
      const metrics429 = await workers429s(workers);
      const jobs = await jobCounts();
      const requests = vendors.log;
      const calls = callCounts(requests);
      // Per event Kommo was asked about: all of them once drained; if capped, those read so far.
      const leadIds = new Set(leads.map((l) => `lead:${l.leadId}`));
      const read = new Set(requests.filter((r) => r.vendor === "kommo").flatMap((r) => requestKeys(r).filter((k) => leadIds.has(k))));
      const kommoPerEvent = calls.kommo.calls / Math.max(1, read.size);
      const limited = throttles(requests);
      const peaks = rss.perProcess.map((p) => Math.max(p.peakRssMb ?? 0, p.hwmMb ?? 0));
      const peakRss = Math.max(...peaks);
      const s = processes === 1 ? `burst ${events}` : `burst ${events}, ${processes} workers`;
      const capText = `${round(capMs / 1000, 0)} s`;
      return {
        figures: [
          figure(s, "time to drain", drainMs === null ? null : drainMs / 1000, "s", {
            digits: 1,
            ...(drainMs === null && { shown: `did not drain within ${capText} (${synced}/${events} synced)` }),
          }),
          figure(s, "vendor-limited minimum (Kommo's reads, then Moosend's windows)", minimum.chainedMs / 1000, "s", { digits: 2 }),
          figure(s, "drain / minimum", drainMs === null ? null : drainMs / minimum.chainedMs, "×", {
            digits: 2,
            ...(drainMs === null && { shown: `> ${round(capMs / minimum.chainedMs, 1)} ×` }),
            target: { text: "≤ 1.1 ×", met: drainMs !== null && drainMs <= 1.1 * minimum.chainedMs },
          }),
          ...(drained
            ? []
            : [
                figure(s, "sync rate while capped (projected drain)", throughput, "ev/s", {
                  digits: 2,
                  shown: `${round(throughput, 2)} ev/s (≈ ${round(events / Math.max(throughput, 1e-9) / 60, 1)} min to drain)`,
                }),
              ]),
          figure(s, "drain / Moosend's windows alone (ignores Kommo's reads; the target's bound until 2026-12-02)", drainMs === null ? null : drainMs / minimum.minimumMs, "×", {
            digits: 2,
            shown: drainMs === null ? "—" : `${round(drainMs / minimum.minimumMs, 2)} × (of ${round(minimum.minimumMs / 1000, 2)} s)`,
          }),
          figure(s, "Kommo calls per event", kommoPerEvent, "", {
            digits: 3,
            ...(!drained && { shown: `${kommoPerEvent.toFixed(3)} (over the ${read.size} events read so far)` }),
            target: { text: "≤ 0.1", met: kommoPerEvent <= 0.1 },
          }),
          figure(s, "429s received (all vendors)", limited.total429, "", {
            digits: 0,
            shown: `${limited.total429} (kommo ${limited.byVendor.kommo}, moosend ${limited.byVendor.moosend}, loops ${limited.byVendor.loops}${limited.kommo403 ? `; kommo 403 ${limited.kommo403}` : ""})`,
            target: { text: "0", met: limited.total429 === 0 && limited.kommo403 === 0 },
          }),
          figure(s, processes === 1 ? "worker peak RSS" : "worker peak RSS (highest of the processes)", peakRss || null, "MB", {
            digits: 0,
            ...(processes > 1 && { shown: `${round(peakRss, 0)} MB (${peaks.map((p) => round(p, 0)).join(", ")})` }),
            target: { text: "< 200 MB", met: peakRss > 0 && peakRss < 200 },
          }),
          ...(processes > 1 ? [figure(s, "workers' summed RSS at its peak", rss.peakSumRssMb, "MB", { digits: 0 })] : []),
          figure(s, processes === 1 ? "worker RSS when idle after start" : "workers' summed RSS when idle after start", idleRss.peakSumRssMb, "MB", { digits: 0 }),
          figure(s, "webhooks accepted per second", events / ((lastAckAt - t0) / 1000), "req/s", { digits: 0 }),
        ],
        details: {
          events,
          mapping: "bench/moosend-only.yaml",
          stage: "5001/6001 → 5001/6002 (Moosend list Nurture)",
          clock: "from the first webhook sent to the last subscribe answered for the target list",
          capSeconds: round(capMs / 1000, 1),
          drained,
          synced,
          drainSeconds: drainMs === null ? null : round(drainMs / 1000, 2),
          elapsedSeconds: round(elapsedMs / 1000, 2),
          syncRatePerSecond: round(throughput, 3),
          vendorLimitedMinimum: minimum,
          ...(lastAckAt - t0 > minimum.chainedMs && {
            note: "delivering the webhooks took longer than the vendor-limited minimum: at this size the ratio mostly measures ingest and the bench; it is meant for 10,000 events",
          }),
          syncedFromTheEventsFeedBeforeTheirWebhook: tracker.doneBeforeSent,
          posting: {
            connections: 32,
            seconds: round((lastAckAt - t0) / 1000, 2),
            retriedAfterNon200: rejected,
            notAcceptedAfter5Tries: tracker.events.filter((e) => e.ackStatus !== 200).length,
          },
          calls,
          // When each Moosend call was answered and how many people it carried: shows where the drain lost time.
          moosendTimeline: moosendTimeline(requests, t0),
          kommoTimeline: kommoTimeline(requests, t0),
          kommoCallsPerEvent: round(kommoPerEvent, 4),
          kommoEventsRead: read.size,
          throttles: limited,
          worker429sFromItsMetrics: metrics429,
          workerProcesses: processes,
          workerMemory: { ...rss, idleAfterStartSumMb: idleRss.peakSumRssMb, sampledEveryMs: 250 },
          jobsAtEnd: jobs,
        },
      };
    },
  };
}

export const burstScenario = burstWith("burst", 1);
export const burst2Scenario = burstWith("burst2", 2);
export const burst4Scenario = burstWith("burst4", 4);
