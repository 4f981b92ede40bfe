import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeKommoWebhook } from "@funnelsync/simulators";
import { eventually, LISTS, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";

/** A seeded generator, so the dropped webhooks are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the Kommo reconciler (events feed) with webhooks that go missing", () => {
  let h: Harness;
  afterEach(() => h.stop());

  /** Every (address, list) a Moosend subscribe call carried, once per call. */
  function subscribesByPerson(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of h.moosend.requests.filter((r) => r.method === "POST" && /\/subscribe(_many)?\.json$/.test(r.path))) {
      const listId = /subscribers\/([^/]+)\//.exec(r.path)![1]!;
      const body = r.body as { Email?: string; Subscribers?: Array<{ Email: string }> };
      for (const email of body.Subscribers?.map((s) => s.Email) ?? [body.Email!]) {
        const key = `${email.toLowerCase()} ${listId}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    return counts;
  }

  /** Only the Nurture stage is mapped: most of the 1,000 changes are recorded, few reach Moosend's slow bulk windows. */
  function nurtureOnlyMapping(): string {
    const path = join(mkdtempSync(join(tmpdir(), "fs-map-")), "nurture-only.yaml");
    writeFileSync(path, `fields:\n  - kommoFieldId: 770001\n    moosend: Company\npipelines:\n  - pipelineId: 5001\n    stages:\n      - statusId: 6002\n        moosend: { listId: ${LISTS.nurture} }\n`);
    return path;
  }

  it("syncs each of 1,000 changes exactly once when 30 % of their webhooks never come", async () => {
    h = await startHarness({ mappingPath: nurtureOnlyMapping(), env: { KOMMO_RECONCILE_SECONDS: "2" }, kommo: { random: seeded(18), rateLimit: { max: 50, perMs: 1_000 } } });
    h.kommo.webhookFaults.dropShare = 0.3;
    h.kommo.events.createdAtOffsetSeconds = 1; // the feed's time of a change is not the webhook's
    const people: Array<{ leadId: number; email: string }> = [];
    for (let i = 0; i < 250; i++) {
      const email = uniqueEmail(`rec${i}`);
      const lead = await h.kommo.addLead({ id: uniqueId(), contact: { id: uniqueId(), name: `Person ${i}`, email }, statusId: 6001 });
      people.push({ leadId: lead.id, email });
    }
    const stages = [6002, 142, 143];
    for (const statusId of stages) for (const p of people) await h.kommo.moveLead(p.leadId, statusId);
    expect(h.kommo.droppedChanges()).toBeGreaterThan(250); // about 300 of the 1,000 changes were never announced

    // Done once the feed has been read past the last change and nothing is left to run.
    const lastChange = h.kommo.events.events.at(-1)!.created_at;
    const watermarkKey = `kommo-events:${h.worker!.deps.kommo.apiId}`;
    await eventually(async () => {
      const readTo = (JSON.parse((await h.worker!.db.watermarks.get(watermarkKey)) ?? "{}") as { readTo?: number }).readTo ?? 0;
      if (readTo < lastChange) return false;
      const counts = await Promise.all(h.worker!.queues.map((q) => q.getJobCounts("waiting", "active", "delayed", "prioritized")));
      return counts.every((c, i) => h.worker!.queues[i]!.name === "esp-events" || Object.values(c).every((n) => n === 0));
    }, 60_000);

    // Each change has exactly one job that acted on it; every other report of it was paired and skipped.
    const changeOf = (jobId: string) => (jobId.endsWith("-added") ? "added" : /-status-\d+-(\d+)-/.exec(jobId)?.[1]);
    // A change's subscribe happens at most once (a move synced after the lead moved on is superseded).
    const wrong: string[] = [];
    let paired = 0;
    for (const p of people) {
      const rows = (await h.worker!.db.outcomes.forLead(p.leadId)).filter((r) => r.jobName.startsWith("kommo.lead"));
      paired += rows.filter((r) => r.step === "job" && r.reason?.startsWith("already synced")).length;
      const acted = rows.filter((r) => r.step === "job" && !r.reason?.startsWith("already synced"));
      const changes = acted.map((r) => changeOf(r.jobId)).sort();
      const subscribes = rows.filter((r) => r.step === "moosend.subscribe" && r.status === "succeeded").length;
      if (JSON.stringify(changes) !== JSON.stringify(["142", "143", "6002", "added"]) || subscribes > 1) {
        wrong.push(`${p.leadId}: ${JSON.stringify(rows.map((r) => [r.jobId, r.step, r.status, r.reason]))}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(paired).toBeGreaterThan(400); // the changes reported both ways were paired, not deduplicated by job id
  }, 120_000);

  describe("with Loops (events and the welcome e-mail)", () => {
    const eventsFor = (email: string, eventName: string) => h.loops.state.events.filter((e) => e.email === email && e.eventName === eventName);
    const welcomesFor = (email: string) => h.loops.state.transactionals.filter((t) => t.email === email);
    const rows = (leadId: number) => h.worker!.db.outcomes.forLead(leadId);
    const pairedSkip = (leadId: number) =>
      eventually(async () => (await rows(leadId)).find((r) => r.step === "job" && r.status === "skipped" && r.reason?.startsWith("already synced")), 20_000);

    /** One deal_won event, one welcome, one subscribe to the customers' list. */
    function expectWonOnce(email: string) {
      expect(eventsFor(email, "deal_won")).toHaveLength(1);
      expect(welcomesFor(email)).toHaveLength(1);
      expect(subscribesByPerson().get(`${email} ${LISTS.customers}`)).toBe(1);
    }

    async function newLead() {
      const email = uniqueEmail("won");
      const lead = await h.kommo.addLead({ id: uniqueId(), contact: { id: uniqueId(), name: "Rita Won", email, company: "Acme" }, statusId: 6002, budget: 900 });
      await eventually(async () => (await rows(lead.id)).find((r) => r.jobName === "kommo.leadAdded" && r.step === "job" && r.status !== "running"));
      return { leadId: lead.id, email };
    }

    it("has a won deal's effects once when the webhook comes first and the event, two seconds later by its clock, second", async () => {
      h = await startHarness({ env: { KOMMO_RECONCILE_SECONDS: "1" } });
      const { leadId, email } = await newLead();
      h.kommo.events.createdAtOffsetSeconds = 2;
      await h.kommo.moveLead(leadId, 142);
      await eventually(() => welcomesFor(email).length > 0, 20_000);
      const skip = await pairedSkip(leadId);
      expect(skip.reason).toMatch(/came by its webhook/);
      await sleep(1_500); // another reconcile: it must send nothing
      expectWonOnce(email);
    }, 40_000);

    it("has them once when the event comes first and the webhook arrives late, its time two seconds after the event's", async () => {
      h = await startHarness({ env: { KOMMO_RECONCILE_SECONDS: "1" } });
      const { leadId, email } = await newLead();
      h.kommo.events.createdAtOffsetSeconds = -2;
      await sleep(2_500); // so the event, dated 2 s early, still falls after the reconciler's first start
      const hooks = h.kommo.state.webhooks.splice(0); // the move's webhook does not come…
      await h.kommo.moveLead(leadId, 142);
      await eventually(() => welcomesFor(email).length === 1, 20_000); // …the events feed brings it
      h.kommo.state.webhooks.push(...hooks);
      const late = encodeKommoWebhook({
        leads: { status: [{ id: leadId, status_id: 142, old_status_id: 6002, pipeline_id: 5001, updated_at: h.kommo.lead(leadId)!.updatedAt }] },
        account: { subdomain: "acme", id: 32720107 },
      });
      expect((await fetch(h.kommoHookUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: late })).status).toBe(200);
      const skip = await pairedSkip(leadId);
      expect(skip.reason).toMatch(/came by Kommo's events feed/);
      await sleep(1_500);
      expectWonOnce(email);
    }, 40_000);

    it("still counts two genuine moves into one stage (out and back) twice, each reported both ways", async () => {
      h = await startHarness({ env: { KOMMO_RECONCILE_SECONDS: "1" } });
      const email = uniqueEmail("twice");
      const lead = await h.kommo.addLead({ id: uniqueId(), contact: { id: uniqueId(), name: "Tom Twice", email }, statusId: 6001 });
      h.kommo.events.createdAtOffsetSeconds = 1;
      for (const statusId of [6002, 6001, 6002]) {
        await sleep(1_100); // a move a second: Kommo's times are whole seconds
        await h.kommo.moveLead(lead.id, statusId);
      }
      await eventually(async () => (await rows(lead.id)).filter((r) => r.step === "job" && r.reason?.startsWith("already synced")).length === 3, 20_000);
      await sleep(1_500);
      expect(eventsFor(email, "nurture_started")).toHaveLength(2);
    }, 40_000);
  });
});
