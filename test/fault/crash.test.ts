import { FaultRig, limitViolations, STAGE, waitFor, type StageChange } from "./faultRig";

jest.setTimeout(180_000);

describe("a worker killed with SIGKILL mid-burst", () => {
  let rig: FaultRig;
  beforeAll(async () => {
    rig = await FaultRig.start({ workers: 2 });
  });
  afterAll(() => rig?.stop());

  it("loses nothing: its jobs are picked up again, and no event or welcome reaches Loops twice", async () => {
    const people = await rig.people(40);
    const changes: StageChange[] = people.map((person, i) => ({ person, statusId: i % 4 === 0 ? STAGE.won : STAGE.lost }));
    const started = Date.now();
    await rig.move(changes);
    // Mid-burst: the victim is the process that has finished the most changes so far, which holds jobs
    // (one process may well have taken the whole burst: either may be first to fetch).
    await waitFor("a few changes to reach Loops", () => rig.loops.state.events.length >= 8, 60_000);
    const changesDone = (worker: (typeof rig.workers)[number]) => worker.lines.filter((l) => l.includes("worker.job: done") && l.includes("kommo.leadStatusChanged")).length;
    const victim = [...rig.workers].sort((a, b) => changesDone(b) - changesDone(a))[0]!;
    victim.signal("SIGKILL");
    const exit = await victim.exited;
    const killedAt = Date.now();
    const replacement = await rig.startWorker();
    await rig.delivered(changes, 120_000);

    // BullMQ counts a job that lost its worker as stalled, and hands it to another one.
    const jobs = await rig.finishedJobs();
    const recovered = jobs.filter((j) => j.stalledCounter > 0);
    const summary = rig.summary("kill -9 of one of two workers mid-burst", changes, {
      seconds: (Date.now() - started) / 1000,
      stalledJobsRecovered: recovered.length,
      recoveredWithinSeconds: Math.max(0, ...recovered.map((j) => ((j.finishedOn ?? killedAt) - killedAt) / 1000)),
    });
    expect(exit.signal).toBe("SIGKILL");
    expect(recovered.length).toBeGreaterThan(0);
    expect(summary).toMatchObject({ sent: 40, delivered: 40, duplicated: 0, lost: 0 });
    expect(jobs.filter((j) => j.name === "kommo.leadStatusChanged")).toHaveLength(40);
    expect(await rig.failedJobs()).toEqual([]);
    expect(await rig.missingOutcomes(changes)).toEqual([]);
    // The survivors finished what the victim held (whichever of them BullMQ's stalled-job check handed it to).
    const survivorsDone = rig.workers.filter((w) => w !== victim).reduce((n, w) => n + changesDone(w), 0);
    expect(survivorsDone + changesDone(victim)).toBeGreaterThanOrEqual(40);
    expect(recovered.every((j) => (j.finishedOn ?? 0) >= killedAt)).toBe(true);
    expect(replacement.running).toBe(true);
    expect(limitViolations(summary.rates)).toEqual([]);
    expect(await rig.leaks(people)).toEqual([]);
  });
});
