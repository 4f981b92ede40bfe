import { setTimeout as sleep } from "node:timers/promises";
import { createRedisConnection, KEY_PREFIX, openJobQueues, type JobData } from "@funnelsync/jobs";
import { MOOSEND_LIMITS, MOOSEND_MAX_BATCH } from "@funnelsync/moosend-client";
import pg from "pg";
import { startWorkerProcess } from "../lib/apps";
import { figure } from "../lib/report";
import { LISTS, MAPPINGS, abortable, appEnv, type Scenario } from "../lib/scenario";
import { BENCH_DATABASE_URL, BENCH_REDIS_URL, jobsLeftToRun, resetState } from "../lib/services";
import { round } from "../lib/stats";
import { startVendors } from "../lib/vendors";

const MEMBERS = 100_000;
const OPTED_OUT = 5_000;
/** Opt-outs since the last poll: in Moosend, not yet in the consent ledger. */
const NEW_OPT_OUTS = 10;
const WINDOW_MS = 10_000;
const LISTING = /\/lists\/[^/]+\/subscribers\/(Unsubscribed|Bounced)\.json$/;

/** The worker's read budget over one 10 s window (our courtesy limit; Moosend publishes none for reads). */
const READS_PER_WINDOW = (MOOSEND_LIMITS.read.max * WINDOW_MS) / MOOSEND_LIMITS.read.perMs;

/** Records the ledger's opt-outs in one statement, as earlier polls or webhooks would have. */
async function recordOptOuts(emails: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO consents (email, state, source, reason, changed_at)
       SELECT email, 'unsubscribed', 'moosend', 'unsubscribed', now() FROM unnest($1::text[]) AS email`,
      [emails],
    );
  } finally {
    await client.end();
  }
}

/** Enqueues one poll of the list as the worker's scheduler would, and waits until the job is done; its processing span in ms. */
async function pollOnce(listId: string, signal: AbortSignal): Promise<{ processingMs: number }> {
  const connection = createRedisConnection(BENCH_REDIS_URL, "worker");
  const data: JobData<"moosend.poll"> = { listId, requestedAt: Date.now() };
  const queues = openJobQueues(connection, { prefix: KEY_PREFIX });
  const queue = queues.byKey.esp;
  try {
    const [jobId] = await queues.add([{ name: "moosend.poll", data }]);
    const job = (await queue.getJob(jobId!))!;
    for (;;) {
      abortable(signal);
      const state = await job.getState();
      if (state === "failed") throw new Error(`poll job failed: ${(await queue.getJob(job.id!))?.failedReason}`);
      if (state === "completed") {
        const done = (await queue.getJob(job.id!))!;
        return { processingMs: done.finishedOn! - done.processedOn! };
      }
      await sleep(50);
    }
  } finally {
    await queues.close();
    connection.disconnect();
  }
}

/**
 * One Moosend poll of a list with 100,000 members of whom 5,000 unsubscribed (10 of them since the
 * last poll): the listing calls it makes, how long it takes, and its share of the worker's Moosend
 * read budget in a 10 s window, which `view.json` confirmations and `find` look-ups share.
 */
export const pollScenario: Scenario = {
  name: "poll",
  describe: "one Moosend poll of a 100,000-member list with 5,000 opt-outs: calls, seconds, share of the read budget",
  hardLimitMs: () => 5 * 60_000,
  async run(ctx) {
    await resetState();
    const vendors = await startVendors();
    ctx.defer(() => vendors.close());

    ctx.progress(`poll: seeding ${MEMBERS} members, ${OPTED_OUT} of them unsubscribed, in the Moosend simulator`);
    const optedOut: string[] = [];
    const every = MEMBERS / OPTED_OUT;
    for (let i = 0; i < MEMBERS; i++) {
      const email = `member-${i}@example.test`;
      const out = i % every === 0;
      vendors.moosend.addSubscriber(LISTS.newLead, { email, status: out ? "Unsubscribed" : "Subscribed" });
      if (out) optedOut.push(email);
    }
    await recordOptOuts(optedOut.slice(NEW_OPT_OUTS));

    const worker = await startWorkerProcess({ ...appEnv(vendors.env, MAPPINGS.moosendOnly), MOOSEND_POLL_SECONDS: "0" }, ctx.logDir);
    ctx.defer(() => worker.stop());

    ctx.progress("poll: one poll of the list");
    const since = Date.now();
    const { processingMs } = await pollOnce(LISTS.newLead, ctx.signal);
    const requests = vendors.moosend.requests;
    const pollRequests = requests.filter((r) => r.at >= since && LISTING.test(r.path));
    // The follow-ups: one `find` per new opt-out, in the same read budget.
    while ((await jobsLeftToRun()) > 0) {
      abortable(ctx.signal);
      await sleep(200);
    }
    const isRead = (r: { at: number; method: string }) => r.at >= since && r.method === "GET";
    const finds = requests.count((r) => isRead(r) && r.path.includes("/find/"));
    const busiest = requests.maxInWindow(WINDOW_MS, isRead);
    const pollCalls = pollRequests.length;
    const wholeListCalls = Math.ceil(MEMBERS / MOOSEND_MAX_BATCH);

    const s = "poll";
    return {
      figures: [
        figure(s, `Moosend listing calls (${MEMBERS.toLocaleString("en")} members, ${OPTED_OUT.toLocaleString("en")} opted out)`, pollCalls, "", {
          digits: 0,
          target: { text: `≤ ceil(opt-outs / ${MOOSEND_MAX_BATCH}) + 1 (Bounced)`, met: pollCalls <= Math.ceil(OPTED_OUT / MOOSEND_MAX_BATCH) + 1 },
        }),
        figure(s, "listing calls to read the whole list instead", wholeListCalls, "", { digits: 0 }),
        figure(s, "poll job, start to done", processingMs / 1000, "s", { digits: 2 }),
        figure(s, `share of the read budget (${READS_PER_WINDOW} per 10 s) in its busiest window`, (100 * pollCalls) / READS_PER_WINDOW, "%", { digits: 0 }),
        figure(s, "Moosend reads in the busiest 10 s window, follow-up finds included", busiest, "", { digits: 0 }),
        figure(s, "new opt-outs acted on (one find each)", finds, "", { digits: 0, target: { text: `= ${NEW_OPT_OUTS}`, met: finds === NEW_OPT_OUTS } }),
      ],
      details: {
        members: MEMBERS,
        optedOut: OPTED_OUT,
        newOptOuts: NEW_OPT_OUTS,
        pollCalls,
        pollRoutes: pollRequests.map((r) => `${r.path.replace(/^.*\/subscribers\//, "")}?Page=${String(r.query.Page)}`),
        processingSeconds: round(processingMs / 1000, 3),
        readsPerWindow: READS_PER_WINDOW,
        busiestWindowReads: busiest,
        finds,
        callsToReadTheWholeList: wholeListCalls,
      },
    };
  },
};
