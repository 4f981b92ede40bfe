import { FaultRig, limitViolations, STAGE, type StageChange } from "./faultRig";

jest.setTimeout(180_000);

describe("a burst of stage changes through two worker processes", () => {
  let rig: FaultRig;
  beforeAll(async () => {
    rig = await FaultRig.start({ workers: 2 });
  });
  afterAll(() => rig?.stop());

  it("drains at the vendors' limits, shared by both processes, and delivers every change exactly once", async () => {
    const people = await rig.people(100);
    // 20 Moosend subscribes first (two 10-second windows' worth), then Loops-only changes.
    const changes: StageChange[] = people.map((person, i) => ({ person, statusId: i < 12 ? STAGE.nurture : i < 20 ? STAGE.won : STAGE.lost }));
    const started = Date.now();
    await rig.move(changes);
    await rig.delivered(changes, 150_000);

    const summary = rig.summary("burst of 100 changes, 2 workers", changes, { seconds: (Date.now() - started) / 1000 });
    expect(summary).toMatchObject({ sent: 100, delivered: 100, duplicated: 0, lost: 0 });
    // Both processes took part, so the limits held although two of them were calling.
    for (const worker of rig.workers) expect(worker.lines.filter((l) => l.includes("worker.job: done")).length).toBeGreaterThan(0);
    expect(limitViolations(summary.rates)).toEqual([]);
    // Kommo posts each move twice (status + update): one job each, none failed.
    const jobs = await rig.finishedJobs();
    expect(jobs.filter((j) => j.name === "kommo.leadStatusChanged")).toHaveLength(100);
    expect(await rig.failedJobs()).toEqual([]);
    expect(await rig.missingOutcomes(changes)).toEqual([]);
    expect(await rig.leaks(people)).toEqual([]);
  });
});
