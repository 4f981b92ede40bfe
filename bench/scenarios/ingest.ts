import { startBareExpress, startIngestProcess } from "../lib/apps";
import { cannon, pacedLoadInProcess, type CannonSummary } from "../lib/httpLoad";
import { PIPELINE_ID, STATUS, stageChangeBody } from "../lib/kommoEvents";
import { figure } from "../lib/report";
import { MAPPINGS, abortable, appEnv, type Scenario } from "../lib/scenario";
import { resetState } from "../lib/services";
import { mean, percentile, round, sortedNumbers } from "../lib/stats";
import { startVendors } from "../lib/vendors";

const ACK_RATE = 500;
const CONNECTIONS = 16;

/**
 * A stage-change body per request with its own 8-digit lead id, so every request enqueues a new job
 * (an existing job id would cost ingest less) and every body has the same size: the body's text
 * around the id, and the ids from `firstId` on.
 */
function bodyParts(): string[] {
  const placeholder = "99999999";
  return stageChangeBody({
    id: Number(placeholder),
    name: "Throughput lead",
    statusId: STATUS.nurture,
    oldStatusId: STATUS.newLead,
    pipelineId: PIPELINE_ID,
    price: 5000,
    createdAt: 1_760_000_000,
    updatedAt: 1_760_000_100,
    budget: "5000",
  }).split(placeholder);
}

function bodies(firstId: number): (i: number) => string {
  const parts = bodyParts();
  let next = firstId;
  return () => parts.join(String(next++));
}

/** Lead ids for the autocannon runs, and a range of their own for the paced run's process. */
const THROUGHPUT_FIRST_ID = 60_000_000;
const PACED_FIRST_ID = 90_000_000;

/** Cumulative counts of ingest's own `funnelsync_ingest_ack_seconds` histogram for answered Kommo webhooks. */
async function ackHistogram(ingestUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${ingestUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const buckets = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("funnelsync_ingest_ack_seconds_bucket{") || !line.includes('route="/webhooks/kommo/:secret"') || !line.includes('status="200"')) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le) buckets.set(le, Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return buckets;
}

/**
 * Ingest's view of the paced phase: the answers it timed itself (request in → answer out), from the
 * difference of its histogram before and after. Immune to stalls of the load generator, blind to
 * time spent before Express sees the request. The p99 is a bucket bound.
 */
function serverSideAcks(before: Map<string, number>, after: Map<string, number>) {
  const delta = [...after].map(([le, count]) => ({ le, count: count - (before.get(le) ?? 0) }));
  const total = delta.find((b) => b.le === "+Inf")?.count ?? 0;
  const within10ms = delta.find((b) => b.le === "0.01")?.count ?? 0;
  const p99Bucket = delta.find((b) => b.count >= 0.99 * total)?.le;
  return {
    answers: total,
    shareWithin10ms: total ? within10ms / total : null,
    p99AtMostMs: p99Bucket === undefined || p99Bucket === "+Inf" ? null : Number(p99Bucket) * 1000,
  };
}

/**
 * Ingest alone (no worker: jobs wait in Redis) against two bare Express processes, one parsing the
 * form body with `express.urlencoded` (the target's reference: the least any webhook receiver does)
 * and one answering without reading it (an upper bound), all measured by autocannon in this run with
 * the same connections and duration, alternating with the parsing reference first and last; then
 * ingest's answer time at a steady 500 webhooks per second.
 */
export const ingestScenario: Scenario = {
  name: "ingest",
  describe: "ingest throughput vs bare Express parsing the form; ack latency at 500 req/s",
  hardLimitMs: () => 5 * 60_000,
  async run(ctx) {
    const seconds = ctx.quick ? 5 : 10;
    await resetState();
    const vendors = await startVendors();
    ctx.defer(() => vendors.close());
    const env = appEnv(vendors.env, MAPPINGS.full);
    const [bare, parsing, ingest] = await Promise.all([
      startBareExpress(ctx.logDir),
      startBareExpress(ctx.logDir, { parsingBody: true }),
      startIngestProcess(env, ctx.logDir),
    ]);
    ctx.defer(() => bare.stop());
    ctx.defer(() => parsing.stop());
    ctx.defer(() => ingest.stop());
    const body = bodies(THROUGHPUT_FIRST_ID);
    const bareUrl = `${bare.url}${vendors.kommoHookPath}`;
    const parsingUrl = `${parsing.url}${vendors.kommoHookPath}`;
    const ingestUrl = `${ingest.url}${vendors.kommoHookPath}`;
    const load = (url: string, durationSeconds: number) => cannon({ url, body, connections: CONNECTIONS, durationSeconds });

    ctx.progress("ingest: warming up the three servers (2 s each)");
    await load(bareUrl, 2);
    await load(parsingUrl, 2);
    await load(ingestUrl, 2);
    abortable(ctx.signal);
    // Alternating runs, the target's reference first and last, so drift in the machine's load hits every side alike.
    const rounds = ctx.quick ? 1 : 2;
    ctx.progress(`ingest: throughput, ${CONNECTIONS} connections, ${seconds} s per run: parsing${" → ingest → bare → parsing".repeat(rounds)}`);
    const parsingRuns: CannonSummary[] = [await load(parsingUrl, seconds)];
    const ingestRuns: CannonSummary[] = [];
    const bareRuns: CannonSummary[] = [];
    for (let r = 0; r < rounds; r++) {
      abortable(ctx.signal);
      ingestRuns.push(await load(ingestUrl, seconds));
      bareRuns.push(await load(bareUrl, seconds));
      parsingRuns.push(await load(parsingUrl, seconds));
    }
    abortable(ctx.signal);

    ctx.progress(`ingest: ack latency at a steady ${ACK_RATE} req/s for ${seconds} s`);
    const histogramBefore = await ackHistogram(ingest.url);
    const paced = await pacedLoadInProcess({ url: ingestUrl, rate: ACK_RATE, durationMs: seconds * 1000, bodyParts: bodyParts(), firstId: PACED_FIRST_ID, maxSockets: 64 });
    const server = serverSideAcks(histogramBefore, await ackHistogram(ingest.url));
    const acks = sortedNumbers(paced.results.filter((r) => r.status === 200).map((r) => r.ackAt - r.sentAt));
    const pacedFailures = paced.results.filter((r) => r.status !== 200).length;
    abortable(ctx.signal);
    ctx.progress(`ingest: autocannon overallRate ${ACK_RATE} for ${seconds} s`);
    const rated = await cannon({ url: ingestUrl, body, connections: 10, durationSeconds: seconds, overallRate: ACK_RATE });

    const rps = (runs: CannonSummary[]) => runs.map((r) => r.requestsPerSecond);
    const bareRps = mean(rps(bareRuns))!;
    const ingestRps = mean(rps(ingestRuns))!;
    const parsingRps = mean(rps(parsingRuns))!;
    const ratio = ingestRps / parsingRps;
    const parsingSpread = (Math.max(...rps(parsingRuns)) - Math.min(...rps(parsingRuns))) / parsingRps;
    const p50 = percentile(acks, 50) ?? null;
    const p99 = percentile(acks, 99) ?? null;
    const failed = (run: CannonSummary) => run.non2xx + run.errors;
    const s = "ingest";
    return {
      figures: [
        figure(s, `bare Express parsing the form (express.urlencoded) throughput (mean of ${parsingRuns.length} runs)`, parsingRps, "req/s", { digits: 0 }),
        figure(s, "bare Express parsing the form: run-to-run spread (noise)", parsingSpread * 100, "%", { digits: 0 }),
        figure(s, `ingest throughput (mean of ${ingestRuns.length} runs)`, ingestRps, "req/s", { digits: 0 }),
        figure(s, "ingest / bare Express parsing the form", ratio, "", { digits: 2, target: { text: "≥ 0.90", met: ratio >= 0.9 } }),
        figure(s, `bare Express not reading the body (mean of ${bareRuns.length} runs; an upper bound no receiver reaches)`, bareRps, "req/s", { digits: 0 }),
        figure(s, "ingest / bare Express not reading the body", ingestRps / bareRps, "", { digits: 2 }),
        figure(s, "ingest non-2xx + errors under full load", ingestRuns.reduce((n, r) => n + failed(r), 0), "", { digits: 0 }),
        figure(s, `ack p50 at ${ACK_RATE} req/s (paced)`, p50, "ms", { digits: 2 }),
        figure(s, `ack p99 at ${ACK_RATE} req/s (paced)`, p99, "ms", { digits: 2, target: { text: "< 10 ms", met: p99 !== null && p99 < 10 && pacedFailures === 0 } }),
        figure(s, `load generator's worst lag in the paced run (noise)`, paced.maxLagMs, "ms", { digits: 1 }),
        figure(s, `ack p99 at ${ACK_RATE} req/s, ingest's own histogram`, server.p99AtMostMs, "ms", {
          shown: server.p99AtMostMs === null ? "not measured" : `≤ ${server.p99AtMostMs} ms (${round((server.shareWithin10ms ?? 0) * 100, 1)} % within 10 ms)`,
        }),
        figure(s, `ack p50 / p99, autocannon overallRate ${ACK_RATE}`, rated.latencyMs.p99, "ms", {
          shown: `${rated.latencyMs.p50} / ${rated.latencyMs.p99} ms`,
        }),
      ],
      details: {
        connections: CONNECTIONS,
        durationSeconds: seconds,
        reference: "bare Express in its own process parsing the form body with express.urlencoded({ extended: true }), limit 1mb, before POST /webhooks/kommo/:secret answers 200; no auth, Redis or logging",
        ingestSetup: `ingest alone (no worker: jobs wait in Redis); LOG_LEVEL ${env.LOG_LEVEL}; every request a Kommo leads[status] body with its own lead id`,
        order: "parsing reference, then (ingest, bare, parsing reference) per round",
        parsingRuns,
        ingestRuns,
        bareReference: "bare Express answering 200 without reading the body, in its own process",
        bareRuns,
        ratio: round(ratio, 3),
        parsingSpread: round(parsingSpread, 3),
        ackPaced: {
          method: `open loop from a child process of its own: request i sent at start + i/${ACK_RATE} s over up to 64 keep-alive connections; latency from send to full answer`,
          sent: paced.results.length,
          failed: pacedFailures,
          achievedRate: round(paced.achievedRate, 1),
          maxSenderLagMs: round(paced.maxLagMs, 2),
          p50Ms: p50 === null ? null : round(p50, 3),
          p90Ms: round(percentile(acks, 90) ?? NaN, 3),
          p99Ms: p99 === null ? null : round(p99, 3),
          maxMs: round(acks.at(-1) ?? NaN, 3),
        },
        ackServerSide: { source: "ingest /metrics funnelsync_ingest_ack_seconds, difference over the paced run", ...server },
        ackAutocannonRated: {
          note: "autocannon's overallRate lets each connection send its per-second quota back to back, then wait for the next second: bursts, 1 ms resolution",
          ...rated,
        },
      },
    };
  },
};
