import { FaultRig, limitViolations, STAGE, waitFor, type StageChange } from "./faultRig";

jest.setTimeout(180_000);

describe("SIGTERM mid-burst", () => {
  let rig: FaultRig;
  beforeAll(async () => {
    rig = await FaultRig.start({ workers: 1 });
  });
  afterAll(() => rig?.stop());

  it("drains both apps to exit 0 within the deadline, hands back no half-done job, and a restart finishes the rest once", async () => {
    const people = await rig.people(24);
    const changes: StageChange[] = people.map((person, i) => ({ person, statusId: i % 4 === 0 ? STAGE.won : STAGE.lost }));
    const first = changes.slice(0, 16);
    const later = changes.slice(16);
    const started = Date.now();
    await rig.move(first);
    await waitFor("a few changes to reach Loops", () => rig.loops.state.events.length >= 3, 60_000);
    const [ingest, worker] = [rig.ingest, rig.workers[0]!];
    const termAt = Date.now();
    ingest.signal("SIGTERM");
    worker.signal("SIGTERM");
    const [ingestExit, workerExit] = await Promise.all([ingest.exited, worker.exited]);

    // Ingest stopped accepting: Kommo's next delivery finds nobody (and will be retried by Kommo).
    const refused = await fetch(rig.hookUrl, { method: "POST", body: "" }).then(() => "answered", () => "refused");
    // The worker finished what it had in hand: no job is left active (locked by a dead process).
    const countsAfterDrain = await rig.jobCounts();
    const finishedBeforeRestart = rig.figures(first).delivered;

    await rig.startIngest();
    await rig.startWorker();
    await rig.move(later);
    await rig.delivered(changes, 120_000);

    const summary = rig.summary("SIGTERM to ingest and worker mid-burst, then restart", changes, {
      seconds: (Date.now() - started) / 1000,
      ingestExit: { code: ingestExit.code, ms: ingestExit.at - termAt },
      workerExit: { code: workerExit.code, ms: workerExit.at - termAt },
      deliveredBeforeRestart: finishedBeforeRestart,
    });
    // Each app's own shutdown deadline exits 1 when it fires: exit 0 is the drain finishing within it.
    expect(ingestExit.code).toBe(0);
    expect(workerExit.code).toBe(0);
    for (const app of [ingest, worker]) expect(app.lines.some((l) => l.includes("shutdown.done: closed") && l.includes('"failed":false'))).toBe(true);
    expect(refused).toBe("refused");
    expect(countsAfterDrain.active).toBe(0);
    expect(finishedBeforeRestart).toBeGreaterThan(0);
    expect(summary).toMatchObject({ sent: 24, delivered: 24, duplicated: 0, lost: 0 });
    expect(await rig.failedJobs()).toEqual([]);
    expect(await rig.missingOutcomes(changes)).toEqual([]);
    expect(limitViolations(summary.rates)).toEqual([]);
    expect(await rig.leaks(people)).toEqual([]);
  });
});
