import { jobIdFor, QUEUES, type JobData } from "@funnelsync/jobs";
import { eventually, startHarness, type Harness } from "../../../test/harness";

jest.setTimeout(60_000);

describe("a client's bad argument", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.stop());

  it("fails the job at once, on its first attempt, with the reason in the job and its outcome row", async () => {
    // Loops reported an unsubscribe for an address without "@": the Kommo contact search refuses it.
    const data: JobData<"loops.webhook"> = {
      webhookId: `msg_bad_${Date.now()}`,
      eventName: "contact.unsubscribed",
      eventTime: null,
      contactId: null,
      email: "marina.example.test",
      userId: null,
      mailingListId: null,
      sourceType: null,
    };
    const jobId = jobIdFor("loops.webhook", data);
    const queue = h.worker!.queues.find((q) => q.name === QUEUES.esp)!;
    await queue.add("loops.webhook", data, { jobId });

    // Read once failed: a job read before the failure and asked for its state after it would show the attempts of before.
    const job = await eventually(async () => ((await queue.getJobState(jobId)) === "failed" ? queue.getJob(jobId) : undefined));
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toBe('kommo: not an e-mail address: "marina.example.test"');
    expect(await h.worker!.db.outcomes.forJob(jobId)).toContainEqual(
      expect.objectContaining({ step: "job", status: "failed", reason: 'kommo: not an e-mail address: "marina.example.test"' }),
    );
    expect(h.kommo.requests.count((r) => r.path === "/api/v4/contacts")).toBe(0);
  });
});
