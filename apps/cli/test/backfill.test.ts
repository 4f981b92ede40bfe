import type { Queue } from "bullmq";
import { Redis } from "ioredis";
import { openJobQueues, type JobQueues } from "@funnelsync/jobs";
import { KommoClient } from "@funnelsync/kommo-client";
import { eventually, LISTS, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";
import { TEST_REDIS_URL } from "../../../test/testEnv";
import { backfill } from "../src/commands/backfill";
import { cli } from "./cliKit";

describe("funnelsync backfill", () => {
  let h: Harness;
  let redis: Redis;
  let queues: JobQueues;
  let queue: Queue;

  beforeEach(async () => {
    h = await startHarness({ worker: false });
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    queues = openJobQueues(redis, { prefix: h.prefix });
    queue = queues.byKey.kommo;
    h.kommo.state.webhooks.length = 0; // leads made below exist in Kommo only, as old deals do
  });
  afterEach(async () => {
    await queue.obliterate({ force: true });
    await queues.close();
    redis.disconnect();
    await h.stop();
  });

  async function addLeads(count: number, statusId: number): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const lead = await h.kommo.addLead({ id: uniqueId(), name: `Old deal ${i}`, email: uniqueEmail("old"), statusId, budget: 1000 + i });
      ids.push(lead.id);
    }
    return ids;
  }
  const emailOf = (leadId: number) => h.kommo.fieldValues(h.kommo.contact(h.kommo.lead(leadId)!.contacts[0]!.id)!, h.kommo.seeded.fields.email)[0];
  const leadsIn = (statusId: number) => [...h.kommo.state.leads.values()].filter((l) => !l.isDeleted && l.pipelineId === 5001 && l.statusId === statusId);
  const backfillJobs = async () => (await queue.getJobs(["waiting", "prioritized", "delayed", "active", "completed", "failed"])).filter((j) => j.name === "kommo.leadUpdated");

  it("enqueues one kommo.leadUpdated job per lead of a stage, reading Kommo 250 leads a page", async () => {
    await addLeads(260, 6001);
    const expected = leadsIn(6001);
    const run = await cli(h, ["backfill", "--pipeline", "5001", "--status", "6001"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`page 1: 250 leads (250 so far), 250 enqueued, 0 already queued\npage 2: ${expected.length - 250} leads`);
    expect(run.stdout).toContain(`backfill stage 5001/6001\n  pages           2\n  leads           ${expected.length}\n  enqueued        ${expected.length}\n  already queued  0`);

    const jobs = await backfillJobs();
    expect(jobs.map((j) => j.data.leadId).sort()).toEqual(expected.map((l) => l.id).sort());
    const lead = expected[0]!;
    const job = jobs.find((j) => j.data.leadId === lead.id)!;
    expect(job.data).toEqual({ leadId: lead.id, pipelineId: 5001, statusId: 6001, oldStatusId: null, updatedAt: lead.updatedAt, accountId: null, fingerprint: "backfill" });
    expect(job.id).toBe(`kommo-lead-${lead.id}-update-${lead.updatedAt}-backfill`);
    expect(job.opts.attempts).toBe(7); // the queue's default job options, as for every job the apps add

    const pages = h.kommo.requests.filter((r) => r.method === "GET" && r.path === "/api/v4/leads");
    expect(pages.map((r) => [r.query.page, r.query.limit])).toEqual([["1", "250"], ["2", "250"]]);
    expect(await redis.keys(`${h.prefix}:ratelimit:kommo:*`)).toHaveLength(1); // the worker's shared window
  });

  it("adds nothing on a second run for unchanged leads, counting them as already queued, and adds a lead changed since", async () => {
    const [changed] = await addLeads(3, 6001);
    const total = leadsIn(6001).length;
    await cli(h, ["backfill", "--pipeline", "5001", "--status", "6001"]);
    h.kommo.lead(changed!)!.updatedAt += 60;
    const again = await cli(h, ["backfill", "--pipeline", "5001", "--status", "6001"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`  enqueued        1\n  already queued  ${total - 1}`);
    expect((await backfillJobs()).filter((j) => j.data.leadId === changed)).toHaveLength(2);
  });

  it("counts without enqueueing on --dry-run, across the whole pipeline", async () => {
    await addLeads(2, 6002);
    const all = [...h.kommo.state.leads.values()].filter((l) => !l.isDeleted && l.pipelineId === 5001).length;
    const run = await cli(h, ["backfill", "--pipeline", "5001", "--dry-run"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`backfill pipeline 5001 (dry run, nothing enqueued)\n  pages           1\n  leads           ${all}\n  would enqueue   ${all}`);
    expect(await backfillJobs()).toEqual([]);
  });

  it("waits as long as Kommo's 429 asks, then reads the same page again", async () => {
    await addLeads(1, 6001);
    const kommo = new KommoClient({ baseUrl: h.config.kommo.baseUrl!, accessToken: h.config.kommo.accessToken!, http: { retryBaseDelayMs: 0 } });
    h.kommo.faults.only((method, path) => method === "GET" && path === "/api/v4/leads").rateLimitNext(1);
    const waits: number[] = [];
    const summary = await backfill({ kommo, queues, mapping: h.config.mapping, pipelineId: 5001, statusId: 6001, sleep: async (ms) => void waits.push(ms) });
    expect(waits).toEqual([300_000]); // Kommo's documented retry_after: 300 (seconds), in the body as Kommo sends it
    expect(summary).toMatchObject({ pages: 1, leads: leadsIn(6001).length, enqueued: leadsIn(6001).length });
    expect(h.kommo.requests.filter((r) => r.path === "/api/v4/leads").map((r) => [r.status, r.query.page])).toEqual([[429, "1"], [200, "1"]]);
  });

  it("refuses a pipeline the mapping does not name with exit 2, before calling Kommo", async () => {
    const run = await cli(h, ["backfill", "--pipeline", "5002"]);
    expect(run).toEqual({ code: 2, stdout: "", stderr: "backfill: pipeline 5002 is not in the mapping (mapped: 5001)\n" });
    const stage = await cli(h, ["backfill", "--pipeline", "5001", "--status", "6101"]);
    expect(stage).toMatchObject({ code: 2, stderr: "backfill: stage 5001/6101 is not in the mapping (mapped: 6001, 6002, 142, 143)\n" });
    expect(h.kommo.requests.count((r) => r.path === "/api/v4/leads")).toBe(0);
  });

  it("syncs the backfilled leads' list membership and properties once the worker runs, and fires no Loops event", async () => {
    const [leadId] = await addLeads(1, 6002);
    const email = emailOf(leadId!);
    expect(email).toMatch(/@example\.test$/);
    await cli(h, ["backfill", "--pipeline", "5001", "--status", "6002"]);
    const worker = await h.startWorker();
    await eventually(async () => (await worker.db.outcomes.forLead(leadId!)).find((r) => r.step === "job" && r.status === "succeeded"));
    expect(h.moosend.subscribers(LISTS.nurture).find((s) => s.Email === email)).toMatchObject({ Status: "Subscribed", CustomFields: { Budget: "1000" } });
    expect([...h.loops.state.contacts.values()].filter((c) => c.email === email)).toHaveLength(1);
    expect(h.loops.state.events.filter((e) => e.email === email)).toEqual([]);
  });
});
