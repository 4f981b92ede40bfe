import type { OutcomeRow } from "@funnelsync/db";
import { eventually, LISTS, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";
import { vendorsOf } from "../src/commands/replay";
import { cli } from "./cliKit";

describe("funnelsync replay (failed jobs against the simulators)", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.stop());

  const jobRow = (leadId: number, jobName: string, status?: string) =>
    eventually(async () =>
      (await h.worker!.db.outcomes.forLead(leadId)).find((r) => r.step === "job" && r.jobName === jobName && (status ? r.status === status : r.status !== "running")),
    );
  const kommoQueue = () => h.worker!.queues.find((q) => q.name === "kommo-events")!;

  /** A lead moved to Nurture (Moosend list + Loops event) whose sync fails for good at one vendor. */
  async function failedMove(vendor: "moosend" | "loops") {
    const email = uniqueEmail(vendor);
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Rita Alves", email, company: "Alves SA" });
    const lead = await h.kommo.addLead({ id: uniqueId(), name: "Rita deal", contactId: contact.id, statusId: 6001 });
    // Wait for success, not just any end: a transient first attempt would retry and take the fault below.
    await jobRow(lead.id, "kommo.leadAdded", "succeeded");
    if (vendor === "loops") h.loops.faults.only((method, path) => method === "POST" && path.endsWith("/events/send")).failNext(1, 400);
    // Only the move's own subscribe (to Nurture): the contact's add_contact job may still be running
    // and, once the lead is in New Lead, subscribe there; that call must not take the fault.
    else h.moosend.faults.only((method, path) => method === "POST" && path.includes(`/subscribers/${LISTS.nurture}/subscribe`)).failNext(1, 400);
    await h.kommo.moveLead(lead.id, 6002);
    const job = await jobRow(lead.id, "kommo.leadStatusChanged");
    expect(job.status).toBe("failed");
    // The dispatcher writes the row first, then BullMQ moves the job to failed.
    expect(await eventually(async () => {
      const state = await kommoQueue().getJobState(job.jobId);
      return state === "active" ? undefined : state;
    })).toBe("failed");
    return { lead, email, jobId: job.jobId };
  }

  it("retries only the jobs that failed at the named vendor, and a retried job finishes without redoing its done steps", async () => {
    const atLoops = await failedMove("loops");
    const atMoosend = await failedMove("moosend");

    const dry = await cli(h, ["replay", "--vendor", "moosend", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(atMoosend.jobId);
    expect(dry.stdout).not.toContain(atLoops.jobId);
    expect(dry.stdout).toMatch(/replay: would retry 1 failed job \(dry run, nothing changed\)\n$/);
    expect(await kommoQueue().getJobState(atMoosend.jobId)).toBe("failed");

    const run = await cli(h, ["replay", "--vendor", "moosend"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`${atMoosend.jobId}\\s+kommo\\.leadStatusChanged\\s+${atMoosend.lead.id}\\s+moosend\\s+moosend: POST /subscribers/`));
    expect(run.stdout).toMatch(/replay: retried 1 failed job\n$/);
    await jobRow(atMoosend.lead.id, "kommo.leadStatusChanged", "succeeded");
    expect(h.moosend.subscribers(LISTS.nurture).find((s) => s.Email === atMoosend.email)).toMatchObject({ Status: "Subscribed" });
    expect(h.loops.state.events.filter((e) => e.email === atMoosend.email && e.eventName === "nurture_started")).toHaveLength(1);
    expect(await kommoQueue().getJobState(atLoops.jobId)).toBe("failed");
  });

  it("narrows by lead and by failure time, and says so when nothing matches", async () => {
    const first = await failedMove("loops");
    const second = await failedMove("loops");

    const none = await cli(h, ["replay", "--since", new Date(Date.now() + 60_000).toISOString()]);
    expect(none).toEqual({ code: 0, stdout: "replay: no failed job matches\n", stderr: "" });

    const one = await cli(h, ["replay", "--lead", String(second.lead.id), "--since", "2020-01-01T00:00:00Z"]);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain(second.jobId);
    expect(one.stdout).not.toContain(first.jobId);
    await jobRow(second.lead.id, "kommo.leadStatusChanged", "succeeded");
    expect(h.loops.state.events.filter((e) => e.email === second.email && e.eventName === "nurture_started")).toHaveLength(1);
    expect(await kommoQueue().getJobState(first.jobId)).toBe("failed");
  });

  it("answers a bad --since or --vendor with exit 2 and touches nothing", async () => {
    const since = await cli(h, ["replay", "--since", "yesterday"]);
    expect(since.code).toBe(2);
    expect(since.stderr).toContain("option '--since <time>' argument 'yesterday' is invalid. must be an ISO time");
    const vendor = await cli(h, ["replay", "--vendor", "mailchimp"]);
    expect(vendor.code).toBe(2);
    expect(vendor.stderr).toContain("Allowed choices are kommo, moosend, loops");
  });
});

describe("vendorsOf (which vendor a failed job is stuck at)", () => {
  const row = (r: Partial<OutcomeRow>): OutcomeRow =>
    ({ id: "1", jobId: "j", jobName: "kommo.leadStatusChanged", step: "job", vendor: "none", action: "process", status: "failed", reason: null, attempts: 1, ...r }) as OutcomeRow;

  it("names the vendors of failed or unfinished steps, not of steps that succeeded", () => {
    expect(
      vendorsOf(
        [
          row({ step: "moosend.subscribe", vendor: "moosend", status: "succeeded" }),
          row({ step: "loops.event.deal_won", vendor: "loops", status: "failed" }),
          row({ step: "loops.transactional", vendor: "loops", status: "running" }),
          row({ step: "job", reason: "loops: POST /events/send answered 400" }),
        ],
        undefined,
      ),
    ).toEqual(["loops"]);
  });

  it("reads the vendor from a whole-job failure's reason, or from BullMQ's when no row was written", () => {
    expect(vendorsOf([row({ reason: "kommo: GET /leads answered 500" })], "kommo: GET /leads answered 500")).toEqual(["kommo"]);
    expect(vendorsOf([], "moosend: GET /lists/1/details.json got no answer")).toEqual(["moosend"]);
    expect(vendorsOf([row({ reason: "bad payload: leadId required" })], "bad payload for kommo.leadUpdated")).toEqual([]);
  });
});
