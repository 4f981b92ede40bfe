import { randomInt, randomUUID } from "node:crypto";
import { createDb, type ChangeReport, type Db } from "@funnelsync/db";
import { TEST_DATABASE_URL } from "../../../test/testEnv";

let db: Db;
beforeAll(() => {
  db = createDb(TEST_DATABASE_URL);
});
afterAll(() => db.close());

const TOLERANCE = 5;

describe("Kommo change claims (one report of a change has its effects)", () => {
  let leadId: number;
  beforeEach(() => {
    leadId = randomInt(1, 2 ** 31 - 1);
  });
  const report = (source: ChangeReport["source"], change: string, changedAt: number): ChangeReport => ({
    entityType: "lead", entityId: leadId, change, changedAt, source, jobId: `job-${randomUUID()}`,
  });
  const claim = (r: ChangeReport) => db.changeClaims.claim(r, TOLERANCE);

  it("pairs a webhook and an event of one move, in either order, two seconds apart; a retry gets the same answer", async () => {
    const hook = report("webhook", "status:5001:6002", 1_000);
    const event = report("events", "status:5001:6002", 1_002);
    expect(await claim(hook)).toEqual({ claimed: true });
    expect(await claim(event)).toEqual({ claimed: false, pairedWith: hook.jobId });
    expect(await claim(hook)).toEqual({ claimed: true });
    expect(await claim(event)).toEqual({ claimed: false, pairedWith: hook.jobId });

    const laterEvent = report("events", "status:5001:142", 2_000);
    const lateHook = report("webhook", "status:5001:142", 1_999);
    expect(await claim(laterEvent)).toEqual({ claimed: true });
    expect(await claim(lateHook)).toEqual({ claimed: false, pairedWith: laterEvent.jobId });
  });

  it("counts two moves into one stage (out and back) twice, and never pairs two reports from one source", async () => {
    const first = report("webhook", "status:5001:6002", 1_000);
    const out = report("webhook", "status:5001:6001", 1_001);
    const back = report("webhook", "status:5001:6002", 1_002);
    for (const r of [first, out, back]) expect(await claim(r)).toEqual({ claimed: true });
    // The feed's reports of the same three moves each pair with their own webhook.
    expect(await claim(report("events", "status:5001:6002", 1_000))).toEqual({ claimed: false, pairedWith: first.jobId });
    expect(await claim(report("events", "status:5001:6001", 1_001))).toEqual({ claimed: false, pairedWith: out.jobId });
    expect(await claim(report("events", "status:5001:6002", 1_003))).toEqual({ claimed: false, pairedWith: back.jobId });
    // A fourth report finds no partner left: it is a change of its own.
    expect(await claim(report("events", "status:5001:6002", 1_003))).toEqual({ claimed: true });
  });

  it("does not pair reports further apart than the tolerance, or of different changes", async () => {
    expect(await claim(report("webhook", "fields", 1_000))).toEqual({ claimed: true });
    expect(await claim(report("events", "fields", 1_000 + TOLERANCE + 1))).toEqual({ claimed: true });
    expect(await claim(report("events", "status:5001:6002", 1_000))).toEqual({ claimed: true });
  });

  it("decides concurrent reports of one change one at a time", async () => {
    const reports = [report("webhook", "status:5001:6002", 1_000), report("events", "status:5001:6002", 1_001)];
    const results = await Promise.all(reports.map(claim));
    expect(results.filter((r) => r.claimed)).toHaveLength(1);
  });

  it("decides a burst of claims from two processes, exactly one claim per change", async () => {
    const other = createDb(TEST_DATABASE_URL); // a second worker process
    try {
      const leads = Array.from({ length: 60 }, () => randomInt(1, 2 ** 31 - 1));
      const reports = leads.flatMap((id) =>
        (["webhook", "events"] as const).map((source, i): ChangeReport => ({
          entityType: "lead", entityId: id, change: "status:5001:6002", changedAt: 1_000 + i, source, jobId: `job-${randomUUID()}`,
        })),
      );
      // Webhooks through one process, the feed's reports through the other, in opposite entity orders.
      const results = await Promise.all([
        ...reports.filter((r) => r.source === "webhook").map((r) => db.changeClaims.claim(r, TOLERANCE).then((res) => [r, res] as const)),
        ...reports.filter((r) => r.source === "events").reverse().map((r) => other.changeClaims.claim(r, TOLERANCE).then((res) => [r, res] as const)),
      ]);
      for (const id of leads) expect(results.filter(([r, res]) => r.entityId === id && res.claimed)).toHaveLength(1);
    } finally {
      await other.close();
    }
  });
});
