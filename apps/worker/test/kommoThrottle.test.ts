import type { Queue } from "bullmq";
import { Redis } from "ioredis";
import { QUEUES } from "@funnelsync/jobs";
import { cli } from "../../cli/test/cliKit";
import { eventually, LISTS, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";
import { TEST_REDIS_URL } from "../../../test/testEnv";

jest.setTimeout(90_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("Kommo's 429 and 403", () => {
  let h: Harness;
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(() => redis.quit());
  afterEach(() => h?.stop());

  const queue = (name: string): Queue => h.worker!.queues.find((q) => q.name === name)!;
  const kommoApi = () => h.kommo.requests.filter((r) => r.path.startsWith("/api/v4/"));
  const errorLines = () => h.logs.filter((line) => line.includes('"level":"error"'));
  const metric = async (name: string, vendor: string) => {
    const text = await (await fetch(`${h.worker!.adminUrl}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name}{vendor="${vendor}"}`));
    return line === undefined ? undefined : Number(line.split(" ")[1]);
  };
  /** How long BullMQ's own pause of a queue (`worker.rateLimit`, which fills its counter to the top) still lasts. */
  const queuePausedMs = (name: string) => queue(name).getRateLimitTtl(Number.MAX_SAFE_INTEGER);
  const readyz = async () => (await fetch(`${h.worker!.adminUrl}/readyz`)).json();

  /** What Redis does when a wait's time is up (its key expires), without spending the time in the test. */
  async function expire(what: "paused" | "probe"): Promise<void> {
    const keys = await redis.keys(`${h.prefix}:ratelimit:kommo:*:${what}`);
    expect(keys).toHaveLength(1);
    await redis.pexpire(keys[0]!, 1);
  }
  const ttlOf = async (what: "paused" | "probe") => {
    const [key] = await redis.keys(`${h.prefix}:ratelimit:kommo:*:${what}`);
    return key ? redis.pttl(key) : -2;
  };

  /** A contact with a lead in "New lead", synced to Moosend's New lead list and to Loops. */
  async function syncedPerson() {
    const email = uniqueEmail("throttle");
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Rita Throttle", email, company: "Rita Co", optIn: true });
    const lead = await h.kommo.addLead({ id: uniqueId(), name: "Rita deal", contactId: contact.id, budget: 500, statusId: 6001 });
    await eventually(() => h.loops.contact(email) && h.moosend.subscribers(LISTS.newLead).some((s) => s.Email === email));
    return { contact, lead, email };
  }
  async function settle() {
    await sleep(300);
    await eventually(async () => {
      const counts = await Promise.all(h.worker!.queues.map((q) => q.getJobCounts("waiting", "active", "delayed")));
      return counts.every((c) => (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) === 0);
    });
  }
  const leadJobDone = (leadId: number) =>
    eventually(async () => (await h.worker!.db.outcomes.forLead(leadId)).find((r) => r.jobName === "kommo.leadStatusChanged" && r.step === "job" && r.status === "succeeded"), 30_000);

  it("pauses only the work that needs Kommo, for the 300 s its 429 asks; Moosend and Loops work goes on, and the pause shows", async () => {
    h = await startHarness({ adminPort: 0 });
    const [mover, fromLoops, fromMoosend] = [await syncedPerson(), await syncedPerson(), await syncedPerson()];
    await settle();

    h.kommo.faults.rateLimitNext(1); // Kommo's own 429 body, with its documented retry_after: 300
    await h.kommo.moveLead(mover.lead.id, 6002);
    await eventually(() => kommoApi().some((r) => r.status === 429) && errorLines().length > 0);
    await sleep(200); // a call that had passed the gate before the 429 came back may still land
    const kommoCallsWhenPaused = kommoApi().length;

    // Reports from the e-mail platforms while Kommo asks us to wait: their Moosend and Loops halves go on.
    await h.loops.unsubscribe(fromLoops.email);
    await h.moosend.unsubscribe(LISTS.newLead, fromMoosend.email, { viaAutomation: true });
    await eventually(() => h.moosend.subscribers(LISTS.newLead).find((s) => s.Email === fromLoops.email)?.Status === "Unsubscribed");
    await eventually(() => h.loops.contact(fromMoosend.email)?.subscribed === false);

    // Kommo got nothing since; its queue waits out the 300 s, the e-mail platforms' queue does not.
    expect(kommoApi().slice(kommoCallsWhenPaused)).toEqual([]);
    expect(await queuePausedMs(QUEUES.kommo)).toBeGreaterThan(290_000);
    expect(await queuePausedMs(QUEUES.esp)).toBeLessThanOrEqual(0);
    expect(await metric("funnelsync_vendor_paused_seconds", "kommo")).toBeGreaterThan(290);
    expect(await metric("funnelsync_vendor_paused_seconds", "kommo")).toBeLessThanOrEqual(300);
    expect(await metric("funnelsync_vendor_paused_seconds", "moosend")).toBe(0);
    expect(await metric("funnelsync_vendor_paused_seconds", "loops")).toBe(0);
    expect(errorLines()).toEqual([expect.stringContaining('"waitMs":300000')]);
    expect(errorLines()[0]).toContain("kommo rate limited us, its calls wait 300 s");

    // The 300 s are over: everything that waited for Kommo gets done.
    await expire("paused");
    await queue(QUEUES.kommo).removeRateLimitKey(); // BullMQ's own pause of the queue ends with them
    for (const job of await queue(QUEUES.esp).getJobs(["delayed"])) await job.promote();
    await leadJobDone(mover.lead.id);
    await eventually(() => h.kommo.notesFor("contacts", fromLoops.contact.id).length === 1 && h.kommo.notesFor("contacts", fromMoosend.contact.id).length === 1);
    expect(await metric("funnelsync_vendor_paused_seconds", "kommo")).toBe(0);
    expect(kommoApi().filter((r) => r.status === 429)).toHaveLength(1);
  });

  describe("an IP block (403 on every call)", () => {
    beforeEach(async () => {
      h = await startHarness({ adminPort: 0, blockTiming: { blockedRecheckMs: 100 } });
    });

    it("stops calling Kommo, says so, probes at most once per 5 minutes, and resumes when a probe gets through", async () => {
      const person = await syncedPerson();
      await settle();
      h.kommo.state.blockedUntil = Number.POSITIVE_INFINITY; // until Kommo's support lifts it
      const before = kommoApi().length;
      const sinceBlock = () => kommoApi().slice(before);
      await h.kommo.moveLead(person.lead.id, 6002);
      await eventually(() => sinceBlock().some((r) => r.status === 403));

      await eventually(() => errorLines().length > 0);
      expect(errorLines()).toEqual([expect.stringContaining("kommo blocks us (403 on every call)")]);
      expect(await metric("funnelsync_vendor_blocked", "kommo")).toBe(1);
      expect(await readyz()).toMatchObject({ status: "ready", kommo: "blocked" });
      // The job looks again every 100 ms here, and never calls Kommo: the next probe is 5 minutes away.
      await sleep(200); // a call that had passed the gate before the first 403 came back may still land
      const blockedCalls = sinceBlock().length;
      await sleep(1_000);
      expect(sinceBlock()).toHaveLength(blockedCalls);
      expect(sinceBlock().every((r) => r.status === 403)).toBe(true);
      expect(await ttlOf("probe")).toBeGreaterThan(290_000);

      // Five minutes on: one probe, still blocked, and the next one five minutes later again.
      await expire("probe");
      await eventually(() => sinceBlock().length === blockedCalls + 1);
      await sleep(1_000);
      expect(sinceBlock()).toHaveLength(blockedCalls + 1);
      expect(sinceBlock().at(-1)!.status).toBe(403);
      expect(await ttlOf("probe")).toBeGreaterThan(290_000);

      // Support lifted the block; five minutes on, the probe gets through and the work resumes.
      h.kommo.state.blockedUntil = 0;
      await expire("probe");
      await leadJobDone(person.lead.id);
      expect(await metric("funnelsync_vendor_blocked", "kommo")).toBe(0);
      expect(await readyz()).toMatchObject({ kommo: "ok" });
      expect(h.logs.filter((l) => l.includes("kommo block lifted") && l.includes('"by":"probe"'))).toHaveLength(1);
      const job = (await queue(QUEUES.kommo).getJobs(["completed"])).find((j) => j.data.leadId === person.lead.id)!;
      expect(job.attemptsMade).toBe(1); // waiting out the block spent no attempt
    });

    it("resumes at once when an operator runs `funnelsync resume kommo`, without waiting for a probe", async () => {
      const person = await syncedPerson();
      await settle();
      h.kommo.state.blockedUntil = Number.POSITIVE_INFINITY;
      await h.kommo.moveLead(person.lead.id, 6002);
      await eventually(() => kommoApi().some((r) => r.status === 403));
      h.kommo.state.blockedUntil = 0; // support lifted it; the next probe is still 5 minutes away

      const run = await cli(h, ["resume", "kommo"]);
      expect(run).toEqual({ code: 0, stdout: expect.stringContaining("kommo: block lifted"), stderr: "" });
      await leadJobDone(person.lead.id);
      expect(await readyz()).toMatchObject({ kommo: "ok" });
      expect((await cli(h, ["resume", "kommo"])).stdout).toBe("kommo: not blocked, nothing to lift\n");
    });
  });
});
