import { FaultRig, limitViolations, STAGE, type StageChange } from "./faultRig";

jest.setTimeout(180_000);

describe("vendor outages: 5xx storms and requests that never answer", () => {
  let rig: FaultRig;
  beforeAll(async () => {
    rig = await FaultRig.start({ workers: 1 });
  });
  afterAll(() => rig?.stop());

  it("retries with backoff until every change is delivered exactly once", async () => {
    const people = await rig.people(30);
    const changes: StageChange[] = people.map((person, i) => ({ person, statusId: i < 6 ? STAGE.nurture : i < 10 ? STAGE.won : STAGE.lost }));
    // Each vendor fails a run of requests in its own way, a few failures per request (two are absorbed
    // by the client's quick retries, a third costs the job an attempt and a 1 s backoff), and leaves a
    // few hanging past the client's 10 s timeout (the vendor never saw them: a retry must still happen
    // exactly once). Reads that many jobs share (Kommo's batched look-ups) take the first failures.
    rig.kommo.faults.failNext(2, 500).hangNext(1).failNext(2, 502);
    rig.moosend.faults.only((_method, path) => path.includes("/subscribe")).failNext(2, 500).hangNext(1).failNext(2, 503);
    rig.loops.faults.only((method) => method !== "GET").failNext(4, 500).hangNext(2).failNext(3, 500);
    const injected = { kommo: rig.kommo.faults.pending, moosend: rig.moosend.faults.pending, loops: rig.loops.faults.pending };
    const started = Date.now();
    await rig.move(changes);
    await rig.delivered(changes, 150_000);

    const jobs = await rig.finishedJobs();
    const retried = jobs.filter((j) => j.attemptsMade > 1);
    const summary = rig.summary("5xx storm and timeouts at all three vendors", changes, {
      seconds: (Date.now() - started) / 1000,
      injected,
      jobsRetriedByTheQueue: retried.length,
      mostAttempts: Math.max(...jobs.map((j) => j.attemptsMade)),
    });
    expect([rig.kommo.faults.pending, rig.moosend.faults.pending, rig.loops.faults.pending]).toEqual([0, 0, 0]);
    expect(rig.kommo.requests.count((r) => r.status >= 500)).toBe(4);
    expect(rig.loops.requests.count((r) => r.status >= 500)).toBe(7);
    expect(summary).toMatchObject({ sent: 30, delivered: 30, duplicated: 0, lost: 0 });
    expect(await rig.failedJobs()).toEqual([]);
    expect(await rig.missingOutcomes(changes)).toEqual([]);
    // The storm cost some jobs an attempt each, with the 1 s / 4 s backoff in between; none ran out.
    expect(retried.length).toBeGreaterThan(0);
    expect(limitViolations(summary.rates)).toEqual([]);
    expect(await rig.leaks(people)).toEqual([]);
  });

  it("a job retried after its welcome went out sends no second one and keeps the record that it sent it", async () => {
    const [person] = await rig.people(1);
    const change = { person: person!, statusId: STAGE.won };
    // Loops is done within milliseconds; Moosend fails three times in a row (the client's two quick
    // retries included), so the job is retried with everything on the Loops side already sent.
    rig.loops.faults.clear();
    rig.moosend.faults.clear();
    rig.moosend.faults.only((_method, path) => path.includes("/subscribe")).failNext(3, 500);
    await rig.move([change]);
    await rig.delivered([change], 30_000);
    const job = (await rig.finishedJobs()).find((j) => j.id!.startsWith(`kommo-lead-${person!.leadId}-`))!;
    expect(job.attemptsMade).toBe(2);
    expect(rig.figures([change])).toMatchObject({ delivered: 1, duplicated: 0, lost: 0 });
    expect(await rig.missingOutcomes([change])).toEqual([]);
  });

  it("does not retry a permanent failure, and the failed job carries the vendor's answer", async () => {
    const [person] = await rig.people(1);
    rig.loops.faults.clear();
    rig.loops.faults.only((method, path) => method === "POST" && path.endsWith("/events/send")).failNext(1, 400);
    await rig.move([{ person: person!, statusId: STAGE.lost }]);
    await rig.idle(30_000);
    const failed = (await rig.failedJobs()).filter((j) => j.id.startsWith(`kommo-lead-${person!.leadId}-`));
    expect(failed).toEqual([{ id: expect.any(String), reason: expect.stringMatching(/loops: POST \/events\/send answered 400: Bad request/) }]);
    // One request, answered 400, never repeated (the faulted request's body was not read by the simulator).
    expect(rig.loops.requests.count((r) => r.path.endsWith("/events/send") && r.status === 400)).toBe(1);
    expect(rig.loops.state.events.filter((e) => e.email === person!.email)).toEqual([]);
    const rows = await rig.db.outcomes.forLead(person!.leadId);
    expect(rows.find((r) => r.step === "loops.event.deal_lost")).toMatchObject({ status: "failed", vendorStatus: 400 });
    expect(rows.find((r) => r.step === "job")).toMatchObject({ status: "failed" });
    expect(await rig.leaks([person!])).toEqual([]);
  });
});
