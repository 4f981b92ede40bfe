import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { startIngestProcess, startWorkerProcess, type ChildApp } from "../lib/apps";
import { EventTracker, loopsEventSent, moosendSubscribed, type EffectMatcher } from "../lib/eventTracker";
import { FormPoster } from "../lib/httpLoad";
import { STATUS, moveLead, seedLeads, type BenchLead } from "../lib/kommoEvents";
import { figure, type Figure } from "../lib/report";
import { LISTS, MAPPINGS, abortable, appEnv, type Scenario, type ScenarioContext } from "../lib/scenario";
import { resetState } from "../lib/services";
import { mean, percentile, round, sortedNumbers } from "../lib/stats";
import { callCounts, moosendTimeline, startVendors, throttles, type BenchVendors } from "../lib/vendors";

export interface Running {
  vendors: BenchVendors;
  poster: FormPoster;
  ingest: ChildApp;
  worker: ChildApp;
}

/**
 * Fresh state, simulators with 50 ms latency, ingest and worker as child processes with `mapping`.
 * `seed` runs before the worker starts: the Kommo simulator writes an event for every change, and
 * the worker's reconciler would otherwise take the seeding for changes whose webhooks never came.
 */
export async function startStack<T = undefined>(ctx: ScenarioContext, mapping: string, seed?: (vendors: BenchVendors) => Promise<T>): Promise<Running & { seeded: T }> {
  await resetState();
  const vendors = await startVendors();
  ctx.defer(() => vendors.close());
  const env = appEnv(vendors.env, mapping);
  const ingest = await startIngestProcess(env, ctx.logDir);
  ctx.defer(() => ingest.stop());
  const seeded = (await seed?.(vendors)) as T;
  // The reconciler's first watermark is the worker's start, in whole seconds and inclusive: started in
  // the second the seeding ended, it took that second's seeded leads for changes whose webhook never came.
  await sleep(1_000 - (Date.now() % 1_000) + 10);
  const worker = await startWorkerProcess(env, ctx.logDir);
  ctx.defer(() => worker.stop());
  const poster = new FormPoster(`${ingest.url}${vendors.kommoHookPath}`, 32);
  ctx.defer(async () => poster.close());
  return { vendors, poster, ingest, worker, seeded };
}

/**
 * Sends one stage change per lead at `rate` per second (each on its own schedule, not waiting for
 * answers), moving the lead in the simulator just before its webhook. While sending, `onTick` runs
 * about every 250 ms (for backlog samples).
 */
export async function sendAtRate(
  running: Running,
  tracker: EventTracker,
  leads: BenchLead[],
  options: { rate: number; statusId: number; signal: AbortSignal; onTick?: (now: number) => void },
): Promise<{ firstSentAt: number; lastSentAt: number; failedAcks: number }> {
  const intervalMs = 1000 / options.rate;
  const start = performance.now();
  const answers: Array<Promise<void>> = [];
  let failedAcks = 0;
  let lastTick = start;
  let lastSentAt = start;
  for (let i = 0; i < leads.length; i++) {
    abortable(options.signal);
    const due = start + i * intervalMs;
    for (let now = performance.now(); now < due; now = performance.now()) {
      if (options.onTick && now - lastTick >= 250) {
        options.onTick(now);
        lastTick = now;
      }
      await sleep(Math.max(1, Math.min(50, Math.floor(due - now))));
    }
    const lead = leads[i]!;
    const body = await moveLead(running.vendors.kommo, lead.leadId, options.statusId);
    const event = tracker.sent(lead, performance.now());
    lastSentAt = event.sentAt;
    answers.push(
      running.poster.post(body).then((answer) => {
        event.ackAt = answer.ackAt;
        event.ackStatus = answer.status;
        if (answer.status !== 200) failedAcks++;
      }),
    );
  }
  await Promise.all(answers);
  return { firstSentAt: tracker.events[0]?.sentAt ?? start, lastSentAt, failedAcks };
}

/** Polls the tracker until every event is complete or `untilMs` (performance.now()) passes. */
export async function waitForEffects(tracker: EventTracker, untilMs: number, signal: AbortSignal, onTick?: (now: number) => void): Promise<void> {
  while (tracker.update() < tracker.events.length && performance.now() < untilMs) {
    abortable(signal);
    onTick?.(performance.now());
    await sleep(100);
  }
}

/** p50/p99 as figures; an event that never completed counts as infinitely late. */
export function latencyFigures(scenario: string, label: string, latencies: number[], waitedMs: number, targets: { p50?: number; p99: number }): Figure[] {
  const sorted = sortedNumbers(latencies);
  const missing = latencies.filter((l) => !Number.isFinite(l)).length;
  const show = (value: number | undefined) =>
    value === undefined ? "no events" : Number.isFinite(value) ? `${Math.round(value)} ms` : `> ${round(waitedMs / 1000, 1)} s (${missing}/${latencies.length} not synced)`;
  const out: Figure[] = [];
  for (const [p, target] of [
    [50, targets.p50],
    [99, targets.p99],
  ] as const) {
    const value = percentile(sorted, p);
    const measurable = value !== undefined && Number.isFinite(value);
    out.push(
      figure(scenario, `${label} p${p}`, measurable ? value : null, "ms", {
        digits: 0,
        shown: show(value),
        ...(target !== undefined && { target: { text: target >= 1000 ? `< ${target / 1000} s` : `< ${target} ms`, met: measurable && value < target } }),
      }),
    );
  }
  return out;
}

function latencySummary(latencies: number[]) {
  const finite = sortedNumbers(latencies.filter(Number.isFinite));
  return {
    events: latencies.length,
    completed: finite.length,
    p50Ms: round(percentile(sortedNumbers(latencies), 50) ?? NaN, 1),
    p90Ms: round(percentile(sortedNumbers(latencies), 90) ?? NaN, 1),
    p99Ms: round(percentile(sortedNumbers(latencies), 99) ?? NaN, 1),
    maxCompletedMs: round(finite.at(-1) ?? NaN, 1),
    meanCompletedMs: round(mean(finite) ?? NaN, 1),
  };
}

/**
 * (a) 1 stage change per second with the contract's mapping (Kommo reads, a Moosend list and a Loops
 * event per change): inside every vendor's limit. Warm-up moves to "Closed - lost" (Loops only), so
 * the worker's first-call costs are paid without spending Moosend's subscribe budget.
 */
async function slowAllVendors(ctx: ScenarioContext) {
  const events = ctx.quick ? 15 : 60;
  const warmups = 2;
  const running = await startStack(ctx, MAPPINGS.full, (vendors) => seedLeads(vendors.kommo, events + warmups, { idBase: 41_000_000, tag: "e2e-slow" }));
  const leads = running.seeded;

  ctx.progress(`e2e (a): ${warmups} warm-up events, then ${events} stage changes at 1 per second (all vendors)`);
  const warm = new EventTracker(running.vendors.log, ["loops.event.deal_lost"], [loopsEventSent("deal_lost")]);
  await sendAtRate(running, warm, leads.slice(0, warmups), { rate: 1, statusId: 143, signal: ctx.signal });
  await waitForEffects(warm, performance.now() + 15_000, ctx.signal);
  await sleep(1_000);

  const logFrom = running.vendors.log.length;
  const matchers: EffectMatcher[] = [moosendSubscribed(LISTS.nurture), loopsEventSent("nurture_started")];
  const tracker = new EventTracker(running.vendors.log, ["moosend.subscribe", "loops.event.nurture_started"], matchers);
  const sent = await sendAtRate(running, tracker, leads.slice(warmups), { rate: 1, statusId: STATUS.nurture, signal: ctx.signal });
  const waitMs = ctx.quick ? 20_000 : 30_000;
  await waitForEffects(tracker, sent.lastSentAt + waitMs, ctx.signal);
  const latencies = tracker.latencies();
  const requests = running.vendors.log.slice(logFrom);
  return {
    figures: [
      ...latencyFigures("e2e 1 ev/s", "webhook → last vendor call", latencies, waitMs, { p50: 250, p99: 500 }),
      figure("e2e 1 ev/s", "429s received", throttles(requests).total429, "", { digits: 0 }),
    ],
    details: {
      mapping: "funnelsync.yaml (contract example)",
      stage: "5001/6001 → 5001/6002 (Moosend list Nurture + Loops event nurture_started)",
      rate: 1,
      events,
      warmupEvents: `${warmups} moves to 143 (Loops only), excluded`,
      failedAcks: sent.failedAcks,
      latency: latencySummary(latencies),
      waitedAfterLastSendMs: waitMs,
      throttles: throttles(requests),
      calls: callCounts(requests),
    },
  };
}

/**
 * (b) A steady 20 stage changes per second on the Moosend-only mapping for a minute (20 s quick):
 * Moosend allows 10 single subscribes and 2 subscribe_many calls per 10 s, so only bulk calls keep
 * up. The backlog (sent − synced) is sampled every 250 ms.
 */
async function steadyMoosend(ctx: ScenarioContext) {
  const rate = 20;
  const seconds = ctx.quick ? 20 : 60;
  const running = await startStack(ctx, MAPPINGS.moosendOnly, (vendors) => seedLeads(vendors.kommo, rate * seconds, { idBase: 42_000_000, tag: "e2e-steady" }));
  const leads = running.seeded;
  ctx.progress(`e2e (b): ${rate} stage changes per second for ${seconds} s (Moosend only)`);
  const tracker = new EventTracker(running.vendors.log, ["moosend.subscribe"], [moosendSubscribed(LISTS.nurture)]);
  const samples: Array<{ t: number; backlog: number }> = [];
  let start = 0;
  const sample = (now: number) => {
    samples.push({ t: (now - start) / 1000, backlog: tracker.events.length - tracker.update() });
  };
  start = performance.now();
  const sent = await sendAtRate(running, tracker, leads, { rate, statusId: STATUS.nurture, signal: ctx.signal, onTick: sample });
  sample(performance.now());
  const sendingSeconds = (sent.lastSentAt - start) / 1000;
  const waitMs = ctx.quick ? 15_000 : 30_000;
  let lastSample = performance.now();
  await waitForEffects(tracker, sent.lastSentAt + waitMs, ctx.signal, (now) => {
    if (now - lastSample >= 250) {
      sample(now);
      lastSample = now;
    }
  });
  const latencies = tracker.latencies();

  // The backlog saws up and down with the bulk calls (2 per 10 s); growth compares its peaks in the
  // middle and the last third of the sending phase, per second between their centres.
  const during = samples.filter((s) => s.t <= sendingSeconds);
  const third = sendingSeconds / 3;
  const peak = (from: number, to: number) => Math.max(0, ...during.filter((s) => s.t >= from && s.t < to + 0.001).map((s) => s.backlog));
  const growth = (peak(2 * third, 3 * third) - peak(third, 2 * third)) / third;
  const growthLimit = rate * 0.05;
  const requests = running.vendors.log;
  const s = `e2e ${rate} ev/s Moosend`;
  return {
    figures: [
      figure(s, "backlog growth (peak, last vs middle third)", growth, "ev/s", {
        digits: 2,
        target: { text: `≤ ${growthLimit} ev/s (does not grow)`, met: growth <= growthLimit },
      }),
      figure(s, "backlog when sending stopped", samples.filter((x) => x.t <= sendingSeconds).at(-1)?.backlog ?? null, "events", { digits: 0 }),
      ...latencyFigures(s, "webhook → last vendor call", latencies, waitMs, { p99: 6000 }),
      figure(s, "429s received", throttles(requests).total429, "", { digits: 0 }),
    ],
    details: {
      mapping: "bench/moosend-only.yaml",
      stage: "5001/6001 → 5001/6002 (Moosend list Nurture)",
      rate,
      sendingSeconds: round(sendingSeconds, 2),
      events: leads.length,
      failedAcks: sent.failedAcks,
      latency: latencySummary(latencies),
      waitedAfterLastSendMs: waitMs,
      backlog: {
        definition: "events sent − events whose Moosend subscribe completed, sampled every 250 ms",
        growthEventsPerSecond: round(growth, 3),
        peakMiddleThird: peak(third, 2 * third),
        peakLastThird: peak(2 * third, 3 * third),
        samples: samples.map((x) => [round(x.t, 2), x.backlog]),
      },
      throttles: throttles(requests),
      calls: callCounts(requests),
      // When each Moosend call was answered and how many people it carried.
      moosendTimeline: moosendTimeline(requests, start),
    },
  };
}

export const e2eScenario: Scenario = {
  name: "e2e",
  describe: "webhook → last vendor call: (a) 1 ev/s all vendors, (b) 20 ev/s Moosend only",
  hardLimitMs: (quick) => (quick ? 6 : 10) * 60_000,
  async run(ctx) {
    const slow = await slowAllVendors(ctx);
    // Each part stops its own processes before the next starts.
    await ctx.flush();
    const steady = await steadyMoosend(ctx);
    return { figures: [...slow.figures, ...steady.figures], details: { slowAllVendors: slow.details, steadyMoosend: steady.details } };
  },
};
