import { FaultRig, limitViolations, sleep, STAGE, waitFor, type StageChange } from "./faultRig";

jest.setTimeout(180_000);

describe("Postgres restarted mid-burst (a private cluster)", () => {
  let rig: FaultRig;
  beforeAll(async () => {
    rig = await FaultRig.start({ workers: 1, privatePostgres: true });
  });
  afterAll(() => rig?.stop());

  it("makes jobs wait and retry; afterwards every change is delivered once and every outcome is recorded", async () => {
    const people = await rig.people(30);
    const changes: StageChange[] = people.map((person, i) => ({ person, statusId: i < 5 ? STAGE.nurture : i < 10 ? STAGE.won : STAGE.lost }));
    const started = Date.now();
    // Half the burst is in flight when the database goes, the other half arrives while it is away.
    await rig.move(changes.slice(0, 15));
    await waitFor("a few changes to reach Loops", () => rig.loops.state.events.length >= 4, 60_000);
    await rig.postgres!.down();
    const downAt = Date.now();
    await rig.move(changes.slice(15));
    await sleep(Math.max(0, 3_000 - (Date.now() - downAt)));
    await rig.postgres!.up();
    const downForMs = Date.now() - downAt;
    await rig.delivered(changes, 120_000);

    const jobs = (await rig.finishedJobs()).filter((j) => j.name === "kommo.leadStatusChanged");
    const summary = rig.summary("Postgres stopped and started mid-burst", changes, {
      seconds: (Date.now() - started) / 1000,
      postgresDownMs: downForMs,
      jobsRetried: jobs.filter((j) => j.attemptsMade > 1).length,
    });
    expect(summary).toMatchObject({ sent: 30, delivered: 30, duplicated: 0, lost: 0 });
    // The outage cost attempts (that is how jobs waited) but no job failed for good.
    expect(jobs).toHaveLength(30);
    expect(jobs.filter((j) => j.attemptsMade > 1).length).toBeGreaterThan(0);
    expect(await rig.failedJobs()).toEqual([]);
    expect(rig.workers.every((w) => w.running)).toBe(true);

    // Every change has its rows: the job and each of its steps succeeded, the event was stored and processed.
    expect(await rig.missingOutcomes(changes)).toEqual([]);
    expect(limitViolations(summary.rates)).toEqual([]);
    expect(await rig.leaks(people)).toEqual([]);
  });
});
