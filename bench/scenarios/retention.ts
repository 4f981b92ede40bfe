import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { KEY_PREFIX, QUEUES } from "@funnelsync/jobs";
import { EventTracker } from "../lib/eventTracker";
import { seedLeads } from "../lib/kommoEvents";
import { figure } from "../lib/report";
import { MAPPINGS, abortable, type Scenario, type ScenarioContext } from "../lib/scenario";
import { BENCH_DATABASE_URL, BENCH_REDIS_URL } from "../lib/services";
import { percentile, round, sortedNumbers } from "../lib/stats";
import { sendAtRate, startStack } from "./e2e";

const RATE = 20;
/** A stage the Moosend-only mapping does not name: each job reads Kommo and writes its rows, and calls no ESP. */
const UNMAPPED_STATUS = 143;
const RETENTION_DAYS = 90;
const SEED_CHUNK = 100_000;

/** Outcome rows as the worker writes them, 200 days old: every one is past RETENTION_DAYS. */
async function seedOldOutcomes(db: pg.Client, rows: number, progress: (m: string) => void): Promise<void> {
  for (let from = 1; from <= rows; from += SEED_CHUNK) {
    const to = Math.min(rows, from + SEED_CHUNK - 1);
    await db.query(
      `INSERT INTO sync_outcomes (job_id, job_name, step, vendor, action, status, attempts, vendor_status, duration_ms, lead_id, contact_id, email, detail, created_at, updated_at)
       SELECT 'kommo-lead-' || g || '-status-5001-6002-1700000000', 'kommo.leadStatusChanged', 'moosend.subscribe', 'moosend', 'subscribe', 'succeeded', 1, 200, 60,
              g, 5000000 + g, 'old-person-' || g || '@example.test', jsonb_build_object('listId', '0b6f5a1e-0000-4000-8000-000000000002'),
              now() - interval '200 days', now() - interval '200 days'
       FROM generate_series($1::int, $2::int) g`,
      [from, to],
    );
    progress(`retention: ${to.toLocaleString("en")} old outcome rows seeded`);
  }
  await db.query("VACUUM ANALYZE sync_outcomes");
}

/** Per event sent, ms from its webhook to its job's row in Postgres (Infinity: never recorded). */
async function recordedLatencies(db: pg.Client, tracker: EventTracker): Promise<number[]> {
  const { rows } = await db.query<{ leadId: number; at: string }>(
    `SELECT lead_id AS "leadId", (extract(epoch FROM updated_at) * 1000)::bigint AS at FROM sync_outcomes
     WHERE step = 'job' AND job_name = 'kommo.leadStatusChanged' AND lead_id = ANY($1::int[])`,
    [tracker.events.map((e) => e.lead.leadId)],
  );
  const recordedAt = new Map(rows.map((r) => [r.leadId, Number(r.at)]));
  return tracker.events.map((e) => {
    const at = recordedAt.get(e.lead.leadId);
    return at === undefined ? Infinity : at - (performance.timeOrigin + e.sentAt);
  });
}

/**
 * An outcome upsert like the worker's, every 50 ms on a connection of its own: what a lock held by
 * the deletes would delay. Returns a stop function that gives its durations by start time.
 */
function probeWrites(db: pg.Client): () => Promise<Array<{ at: number; ms: number }>> {
  const samples: Array<{ at: number; ms: number }> = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const at = Date.now();
      const t0 = performance.now();
      await db.query(
        `INSERT INTO sync_outcomes (job_id, job_name, step, vendor, action, status, attempts, updated_at)
         VALUES ($1, 'bench.probe', 'job', 'none', 'probe', 'succeeded', 1, now())
         ON CONFLICT (job_id, step) DO UPDATE SET attempts = sync_outcomes.attempts + 1, updated_at = now()`,
        [`bench-probe-${i % 100}`],
      );
      samples.push({ at, ms: performance.now() - t0 });
      await sleep(50);
    }
  })();
  return async () => {
    running = false;
    await loop;
    return samples;
  };
}

async function pruneTimes(queue: Queue, jobId: string, signal: AbortSignal): Promise<{ startedAt: number; finishedAt: number }> {
  for (;;) {
    abortable(signal);
    const job = await queue.getJob(jobId);
    if (job?.failedReason) throw new Error(`retention job failed: ${job.failedReason}`);
    if (job?.finishedOn && job.processedOn) return { startedAt: job.processedOn, finishedAt: job.finishedOn };
    await sleep(200);
  }
}

/**
 * 1,000,000 outcome rows older than RETENTION_DAYS (100,000 quick), then a steady 20 stage changes
 * per second: the load's latency (webhook → its job recorded in Postgres) before, and while the
 * worker's retention job deletes the old rows.
 */
async function pruneUnderLoad(ctx: ScenarioContext) {
  const oldRows = ctx.quick ? 100_000 : 1_000_000;
  const beforeSeconds = ctx.quick ? 10 : 30;
  const capSeconds = ctx.quick ? 60 : 240;
  const running = await startStack(ctx, MAPPINGS.moosendOnly, (vendors) => seedLeads(vendors.kommo, RATE * (beforeSeconds + capSeconds), { idBase: 43_000_000, tag: "retention" }));
  const leads = running.seeded;
  const db = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await db.connect();
  ctx.defer(() => db.end());
  const redis = new Redis(BENCH_REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUES.maintenance, { connection: redis, prefix: KEY_PREFIX });
  ctx.defer(async () => {
    await queue.close();
    redis.disconnect();
  });

  ctx.progress(`retention: seeding ${oldRows.toLocaleString("en")} outcome rows 200 days old`);
  await seedOldOutcomes(db, oldRows, ctx.progress);

  const probeDb = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await probeDb.connect();
  ctx.defer(() => probeDb.end());
  const stopProbe = probeWrites(probeDb);

  ctx.progress(`retention: ${RATE} stage changes per second for ${beforeSeconds} s (no pruning)`);
  const before = new EventTracker(running.vendors.log, [], []);
  await sendAtRate(running, before, leads.slice(0, RATE * beforeSeconds), { rate: RATE, statusId: UNMAPPED_STATUS, signal: ctx.signal });

  ctx.progress(`retention: the same load while the worker prunes (at most ${capSeconds} s)`);
  const during = new EventTracker(running.vendors.log, [], []);
  const jobId = "bench-retention";
  let pruned: { startedAt: number; finishedAt: number } | undefined;
  let next = RATE * beforeSeconds;
  const sendSecond = () => {
    const slice = leads.slice(next, next + RATE);
    next += RATE;
    return sendAtRate(running, during, slice, { rate: RATE, statusId: UNMAPPED_STATUS, signal: ctx.signal });
  };
  await sendSecond(); // the load is running when the job starts
  await queue.add("maintenance.retention", { retentionDays: RETENTION_DAYS }, { jobId });
  const pruning = pruneTimes(queue, jobId, ctx.signal).then((times) => (pruned = times));
  while (!pruned && next < leads.length) await sendSecond();
  await sendSecond(); // and still after it ends
  await pruning;
  const probes = await stopProbe();
  await sleep(5_000); // the last jobs record their rows

  const left = Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM sync_outcomes WHERE updated_at < now() - interval '90 days'")).rows[0]!.n);
  const beforeLatencies = await recordedLatencies(db, before);
  const duringAll = await recordedLatencies(db, during);
  // Only the events sent while the job ran: those whose writes met the deletes.
  const inWindow = during.events.map((e, i) => ({ at: performance.timeOrigin + e.sentAt, latency: duringAll[i]! })).filter((e) => e.at >= pruned!.startedAt && e.at <= pruned!.finishedAt);
  const duringLatencies = inWindow.map((e) => e.latency);
  const probeBefore = probes.filter((p) => p.at < pruned!.startedAt).map((p) => p.ms);
  const probeDuring = probes.filter((p) => p.at >= pruned!.startedAt && p.at <= pruned!.finishedAt).map((p) => p.ms);
  const p99 = (values: number[]) => percentile(sortedNumbers(values), 99) ?? NaN;
  const p50 = (values: number[]) => percentile(sortedNumbers(values), 50) ?? NaN;
  const pruneSeconds = (pruned!.finishedAt - pruned!.startedAt) / 1000;
  const ratio = p99(duringLatencies) / p99(beforeLatencies);
  const s = `retention ${oldRows.toLocaleString("en")} rows`;
  const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} ms` : "not recorded");
  return {
    figures: [
      figure(s, "prune time (worker job)", pruneSeconds, "s", { digits: 1 }),
      figure(s, "rows deleted per second", oldRows / pruneSeconds, "rows/s", { digits: 0 }),
      figure(s, "old rows left", left, "", { digits: 0, target: { text: "0", met: left === 0 } }),
      figure(s, `${RATE} ev/s webhook → job recorded p99, before`, p99(beforeLatencies), "ms", { digits: 0, shown: ms(p99(beforeLatencies)) }),
      figure(s, `${RATE} ev/s webhook → job recorded p99, during`, p99(duringLatencies), "ms", { digits: 0, shown: ms(p99(duringLatencies)) }),
      figure(s, "p99 during / before", Number.isFinite(ratio) ? ratio : null, "×", { digits: 2, target: { text: "≤ 2×", met: Number.isFinite(ratio) ? ratio <= 2 : undefined } }),
      figure(s, "outcome upsert every 50 ms, p99 before", p99(probeBefore), "ms", { digits: 1 }),
      figure(s, "outcome upsert every 50 ms, p99 / max during", p99(probeDuring), "ms", {
        digits: 1,
        shown: `${round(p99(probeDuring), 1)} / ${round(Math.max(...probeDuring), 1)} ms`,
        target: { text: "max < 1 s", met: Math.max(...probeDuring) < 1000 },
      }),
    ],
    details: {
      mapping: "bench/moosend-only.yaml; stage changes to 5001/143 (not mapped: Kommo read, rows written, no ESP call)",
      rate: RATE,
      oldRows,
      retentionDays: RETENTION_DAYS,
      pruneSeconds: round(pruneSeconds, 2),
      before: { events: beforeLatencies.length, p50Ms: round(p50(beforeLatencies), 1), p99Ms: round(p99(beforeLatencies), 1), maxMs: round(Math.max(...beforeLatencies), 1) },
      during: { events: duringLatencies.length, p50Ms: round(p50(duringLatencies), 1), p99Ms: round(p99(duringLatencies), 1), maxMs: round(Math.max(...duringLatencies), 1) },
      eventsSentDuringPhase: during.events.length,
      probeUpsert: {
        before: { samples: probeBefore.length, p50Ms: round(p50(probeBefore), 2), p99Ms: round(p99(probeBefore), 2), maxMs: round(Math.max(...probeBefore), 2) },
        during: { samples: probeDuring.length, p50Ms: round(p50(probeDuring), 2), p99Ms: round(p99(probeDuring), 2), maxMs: round(Math.max(...probeDuring), 2) },
      },
      oldRowsLeft: left,
    },
  };
}

export const retentionScenario: Scenario = {
  name: "retention",
  describe: "pruning 1,000,000 old outcome rows under 20 ev/s: the load's p99 before and during",
  hardLimitMs: (quick) => (quick ? 6 : 15) * 60_000,
  run: async (ctx) => pruneUnderLoad(ctx),
};
