import { FaultRig, limitViolations, sleep, STAGE, waitFor, type StageChange } from "./faultRig";

jest.setTimeout(180_000);

describe("Redis restarted mid-burst (a private, append-only one)", () => {
  let rig: FaultRig;
  beforeAll(async () => {
    rig = await FaultRig.start({ workers: 1 });
  });
  afterAll(() => rig?.stop());

  const readyz = (url: string) => fetch(`${url}/readyz`).then((r) => r.status).catch(() => 0);

  it("answers 503 while Redis is down, recovers by itself, and delivers every change exactly once", async () => {
    const people = await rig.people(30);
    const stageOf = (i: number) => (i % 5 === 0 ? STAGE.won : STAGE.lost);
    const before: StageChange[] = people.slice(0, 12).map((person, i) => ({ person, statusId: stageOf(i) }));
    const during: StageChange[] = people.slice(12, 18).map((person, i) => ({ person, statusId: stageOf(i) }));
    const after: StageChange[] = people.slice(18).map((person, i) => ({ person, statusId: stageOf(i) }));
    const ingest = rig.ingest;
    const worker = rig.workers[0]!;
    const started = Date.now();

    await rig.move(before);
    await waitFor("a few changes to reach Loops", () => rig.loops.state.events.length >= 3, 60_000);
    await rig.redis.down();
    const downAt = Date.now();
    const deliveriesBefore = rig.kommo.state.deliveries.length;
    await rig.move(during);
    const refused = rig.kommo.state.deliveries.slice(deliveriesBefore);
    expect(await readyz(rig.ingestUrl)).toBe(503);
    expect(await readyz(worker.adminUrl!)).toBe(503);
    await sleep(Math.max(0, 3_000 - (Date.now() - downAt)));
    await rig.redis.up();
    const upAt = Date.now();

    // Neither process is restarted: both reconnect by themselves.
    await waitFor("ingest to be ready again", async () => (await readyz(rig.ingestUrl)) === 200, 30_000);
    await waitFor("the worker to be ready again", async () => (await readyz(worker.adminUrl!)) === 200, 30_000);
    const recoveredAfterMs = Date.now() - upAt;
    // Kommo retries a delivery that did not get a 2xx; the simulator does not, so do it as Kommo would.
    for (const delivery of refused) {
      const res = await fetch(delivery.destination, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: delivery.body });
      expect(res.status).toBe(200);
    }
    await rig.move(after);
    const changes = [...before, ...during, ...after];
    await rig.delivered(changes, 120_000);

    const summary = rig.summary("Redis stopped and started mid-burst", changes, {
      seconds: (Date.now() - started) / 1000,
      redisDownMs: upAt - downAt,
      webhooksAnswered503: refused.filter((d) => d.status === 503).length,
      appsReadyAgainAfterMs: recoveredAfterMs,
    });
    // Each move is two deliveries (status + update); every one got 503 while Redis was down.
    expect(refused.map((d) => d.status)).toEqual(during.flatMap(() => [503, 503]));
    expect(summary).toMatchObject({ sent: 30, delivered: 30, duplicated: 0, lost: 0 });
    expect([ingest.running, worker.running, rig.ingests.length, rig.workers.length]).toEqual([true, true, 1, 1]);
    expect(await rig.failedJobs()).toEqual([]);
    expect(await rig.missingOutcomes(changes)).toEqual([]);
    expect(limitViolations(summary.rates)).toEqual([]);
    expect(await rig.leaks(people)).toEqual([]);
  });
});
