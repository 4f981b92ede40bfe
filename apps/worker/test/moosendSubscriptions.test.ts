import { MOOSEND_LIMITS, MOOSEND_MAX_BATCH, MoosendClient } from "@funnelsync/moosend-client";
import { SEED, startMoosendSimulator, type MoosendSimulator } from "@funnelsync/simulators";
import { randomUUID } from "node:crypto";
import type { Job } from "bullmq";
import { createDb } from "@funnelsync/db";
import { createRedisGate, MoosendSubscriptions, noteVendorStatus, StepSkipped, SubscriberPool, VendorAnswer, type MoosendSubscriptionsOptions, type MoosendWindow, type RedisGate } from "@funnelsync/vendor-gateway";
import { KOMMO_LIMITS } from "@funnelsync/kommo-client";
import { LOOPS_LIMITS } from "@funnelsync/loops-client";
import { createRedisConnection } from "@funnelsync/jobs";
import type { Redis } from "ioredis";
import { OutcomeRecorder } from "../src/outcomeRecorder";
import { eventually } from "../../../test/harness";
import { TEST_DATABASE_URL, TEST_REDIS_URL } from "../../../test/testEnv";
import { ManualClock } from "../../../test/manualClock";

const LIST = SEED.moosend.lists[1]!.id;
const person = (i: number) => ({ email: `burst-${i}@example.test`, name: `Person ${i}`, customFields: { Company: `Company ${i}` } });

/**
 * The scheduler against the Moosend simulator (its real limits: 10 single and 2 bulk calls per 10 s).
 * `upstream` stands for the worker's queue: how many jobs may still subscribe someone.
 */
describe("MoosendSubscriptions under a burst", () => {
  let sim: MoosendSimulator;
  let redis: Redis;
  /** The account's rate-limit windows in Redis, which every client and scheduler of a test shares. */
  let gate: RedisGate;
  const pools: SubscriberPool[] = [];
  beforeEach(async () => {
    sim = await startMoosendSimulator({ apiKey: "sim-moosend-key" });
    redis = createRedisConnection(TEST_REDIS_URL, "worker");
    gate = createRedisGate({ redis, prefix: `test-${randomUUID()}`, limits: { kommo: KOMMO_LIMITS, moosend: MOOSEND_LIMITS, loops: LOOPS_LIMITS }, accounts: { moosend: sim.url } });
  });
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.close()));
    await redis.quit();
    await sim.close();
  });

  /** A scheduler on a pool of its own (a fresh Redis prefix), as one worker process has. */
  function schedulerWith(options: Partial<MoosendSubscriptionsOptions>, prefix = `test-${randomUUID()}`): MoosendSubscriptions {
    const pool = new SubscriberPool({ redis, prefix });
    pools.push(pool);
    return new MoosendSubscriptions({ moosend: client(), pool, window, ...options });
  }

  const client = () => new MoosendClient({ baseUrl: `${sim.url}/v3`, apiKey: "sim-moosend-key", http: { retryBaseDelayMs: 0, gate } });
  const window: MoosendWindow = (limitKey) => gate.window("moosend", limitKey);
  const calls = () =>
    sim.requests.filter((r) => r.method === "POST").map((r) => ({ bulk: r.path.endsWith("subscribe_many.json"), people: r.path.endsWith("subscribe_many.json") ? (r.body as { Subscribers: unknown[] }).Subscribers.length : 1 }));

  it("holds a bulk call while a burst is on its way and sends it full, then the window's second call at once", async () => {
    let upstream = 2 * MOOSEND_MAX_BATCH;
    const clock = new ManualClock();
    const scheduler = schedulerWith({ upstream: async () => upstream, clock });
    const answers: Array<Promise<unknown>> = [];
    // A trickle first (singles take lone ones), then the rest of two full calls' worth.
    for (let i = 0; i < 40; i++) answers.push(scheduler.subscribe(LIST, person(i)));
    for (let poll = 0; poll < 3; poll++) {
      await eventually(() => clock.sleeping === 1, 5_000); // the bulk call waits for company
      clock.advance(150);
    }
    expect(calls().filter((c) => c.bulk)).toEqual([]); // 40 waiting, 2,000 on their way: no half-empty call
    // Not spaced 5 s apart: a full call's worth was waiting, so both calls go with the clock standing still.
    const before = clock.now();
    for (let i = 40; i < 2 * MOOSEND_MAX_BATCH; i++) answers.push(scheduler.subscribe(LIST, person(i)));
    upstream = 0;
    await Promise.all(answers);
    expect(clock.now()).toBe(before);

    const bulk = calls().filter((c) => c.bulk);
    expect(bulk.map((c) => c.people)).toEqual([MOOSEND_MAX_BATCH, MOOSEND_MAX_BATCH - calls().filter((c) => !c.bulk).length]);
    expect(sim.requests.count((r) => r.status === 429)).toBe(0);
    expect(sim.subscribers(LIST).filter((s) => s.Email.startsWith("burst-"))).toHaveLength(2 * MOOSEND_MAX_BATCH);
  });

  /** One full bulk call's worth and one more (who goes first, as a single), scheduled on `clock`; all their answers. */
  function oneFullCall(upstream: number, clock: ManualClock): Promise<unknown[]> {
    const scheduler = schedulerWith({ upstream: async () => upstream, clock });
    return Promise.all(Array.from({ length: MOOSEND_MAX_BATCH + 1 }, (_, i) => scheduler.subscribe(LIST, person(i))));
  }

  it("answers a full call's people as soon as Moosend answers, though the window's second call is still filling", async () => {
    const clock = new ManualClock();
    const before = clock.now();
    await oneFullCall(3 * MOOSEND_MAX_BATCH, clock); // the clock never moves: no answer waits for the second call
    expect(clock.now()).toBe(before);
    expect(calls().filter((c) => c.bulk)).toEqual([{ bulk: true, people: MOOSEND_MAX_BATCH }]);
  });

  it("gives a lone bulk call's answers at once when no second call's worth is coming", async () => {
    const clock = new ManualClock();
    await clock.withoutSleeping(() => oneFullCall(0, clock));
    expect(calls().filter((c) => c.bulk)).toEqual([{ bulk: true, people: MOOSEND_MAX_BATCH }]);
  });

  it("sends what is waiting at once when nothing more is coming", async () => {
    const clock = new ManualClock();
    const scheduler = schedulerWith({ clock });
    await clock.withoutSleeping(() => Promise.all(Array.from({ length: 30 }, (_, i) => scheduler.subscribe(LIST, person(i)))));
    expect(calls().reduce((n, c) => n + c.people, 0)).toBe(30);
  });

  it("sends a few waiting together as single calls, keeping the scarcer bulk calls for a burst", async () => {
    const clock = new ManualClock();
    const scheduler = schedulerWith({ clock });
    await clock.withoutSleeping(() => Promise.all([0, 1, 2].map((i) => scheduler.subscribe(LIST, person(i)))));
    expect(calls()).toEqual([1, 1, 1].map((people) => ({ bulk: false, people })));
  });

  it("pools the subscribers of several worker processes: their people share one bulk call", async () => {
    const prefix = `test-${randomUUID()}`;
    const [a, b] = [schedulerWith({}, prefix), schedulerWith({}, prefix)];
    const answers = await Promise.all(Array.from({ length: MOOSEND_MAX_BATCH }, (_, i) => (i % 2 ? a : b).subscribe(LIST, person(i))));

    expect(answers.every((answer) => answer instanceof VendorAnswer && answer.value.status === "subscribed")).toBe(true);
    expect(calls().filter((c) => c.bulk && c.people > 1)).toHaveLength(1); // not one per process
    expect(calls().reduce((n, c) => n + c.people, 0)).toBe(MOOSEND_MAX_BATCH);
  });

  it("fails a caller's step, to be retried, when the process that took its subscriber stops before answering", async () => {
    const prefix = `test-${randomUUID()}`;
    const pool = new SubscriberPool({ redis, prefix, heartbeatMs: 100 });
    pools.push(pool);
    const stopped = new SubscriberPool({ redis, prefix, heartbeatMs: 100 });
    // A caller whose scheduler cannot drain: the other process holds the list's lead and takes the entry.
    expect(await stopped.lead(LIST, 60_000)).toBe(true);
    const scheduler = new MoosendSubscriptions({ moosend: client(), pool, window });
    const answer = scheduler.subscribe(LIST, person(0));
    await eventually(async () => (await pool.size(LIST)) === 1, 5_000);
    expect(await stopped.take(LIST, MOOSEND_MAX_BATCH)).toEqual([expect.objectContaining({ email: person(0).email })]);
    await stopped.close(); // no more heartbeats: it stopped

    await expect(answer).rejects.toMatchObject({ name: "VendorError", vendor: "moosend", retryable: true });
    expect(calls()).toEqual([]);
  });

  it("asks the consent ledger again right before the call and leaves out whoever opted out while waiting", async () => {
    const asked: string[][] = [];
    const scheduler = schedulerWith({ optOuts: async (emails) => {
      asked.push(emails);
      return new Map(emails.filter((e) => e === person(1).email).map((e) => [e, "opted out: unsubscribed via moosend at 2026-11-23T10:00:00.000Z"]));
    } });
    const answers = await Promise.all([0, 1, 2].map((i) => scheduler.subscribe(LIST, person(i))));

    expect(answers[1]).toEqual(new StepSkipped("opted out: unsubscribed via moosend at 2026-11-23T10:00:00.000Z"));
    expect(answers[0]).toMatchObject({ value: { email: person(0).email } });
    expect(asked.flat().sort()).toEqual([0, 1, 2].map((i) => person(i).email).sort());
    expect(sim.subscribers(LIST).map((s) => s.Email)).not.toContain(person(1).email);
    expect(sim.subscribers(LIST).map((s) => s.Email)).toEqual(expect.arrayContaining([person(0).email, person(2).email]));
  });

  it("re-activates people who opted back in with the single subscribe, confirmed by view.json, while the others share a subscribe_many", async () => {
    const backIn = new Set([0, 1, 2, 3].map((i) => person(i).email));
    for (const email of backIn) sim.addSubscriber(LIST, { email, status: "Unsubscribed" });
    const confirmed: string[] = [];
    const scheduler = schedulerWith({
      reactivations: {
        needed: async (_listId, emails) => new Set(emails.filter((e) => backIn.has(e))),
        confirmed: async (_listId, subscriber) => void confirmed.push(subscriber.email),
      },
    });
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => scheduler.subscribe(LIST, person(i))));

    expect(answers.map((a) => (a instanceof VendorAnswer ? a.value.status : a.reason))).toEqual(Array(12).fill("subscribed"));
    expect(sim.subscribers(LIST).filter((s) => s.Email.startsWith("burst-")).map((s) => s.Status)).toEqual(Array(12).fill("Subscribed"));
    const bulk = sim.requests.filter((r) => r.path.endsWith("subscribe_many.json")).flatMap((r) => (r.body as { Subscribers: Array<{ Email: string }> }).Subscribers.map((x) => x.Email));
    expect(bulk.filter((email) => backIn.has(email))).toEqual([]);
    const single = sim.requests.filter((r) => r.path.endsWith("/subscribe.json")).map((r) => (r.body as { Email: string }).Email);
    expect(single).toEqual(expect.arrayContaining([...backIn]));
    expect(sim.requests.filter((r) => r.path.endsWith("/view.json")).map((r) => r.query.Email).sort()).toEqual([...backIn].sort());
    expect(confirmed.sort()).toEqual([...backIn].sort());
  });

  it("records a step whose effect decided at the last moment not to act as skipped, with the reason", async () => {
    const db = createDb(TEST_DATABASE_URL);
    try {
      const job = { id: `test-${randomUUID()}`, name: "kommo.leadStatusChanged", attemptsMade: 0, attemptsStarted: 1, log: async () => 0 } as unknown as Job;
      const result = await new OutcomeRecorder(db).step(job, "moosend.subscribe", { vendor: "moosend", action: "subscribe" }, async () => new StepSkipped("opted out meanwhile"));
      expect(result).toBeUndefined();
      expect(await db.outcomes.forJob(job.id!)).toEqual([expect.objectContaining({ step: "moosend.subscribe", status: "skipped", reason: "opted out meanwhile" })]);
    } finally {
      await db.close();
    }
  });

  it("records on each batched subscribe's step row the status Moosend gave the call that answered it, and none on a step that called no vendor", async () => {
    const db = createDb(TEST_DATABASE_URL);
    try {
      const observed = new MoosendClient({ baseUrl: `${sim.url}/v3`, apiKey: "sim-moosend-key", http: { retryBaseDelayMs: 0, gate, observe: (call) => noteVendorStatus(call.status) } });
      const scheduler = schedulerWith({ moosend: observed });
      const recorder = new OutcomeRecorder(db);
      const jobs = Array.from({ length: 6 }, () => ({ id: `test-${randomUUID()}`, name: "kommo.leadStatusChanged", attemptsMade: 0, attemptsStarted: 1, log: async () => 0 }) as unknown as Job);
      await Promise.all(jobs.map((job, i) => recorder.step(job, "moosend.subscribe", { vendor: "moosend", action: "subscribe" }, () => scheduler.subscribe(LIST, person(i)))));
      await recorder.step(jobs[0]!, "nothing.called", { vendor: "none", action: "none" }, async () => "done");

      expect(calls().filter((c) => c.bulk && c.people > 1)).not.toEqual([]); // most of them answered by one subscribe_many
      const rows = (await Promise.all(jobs.map((job) => db.outcomes.forJob(job.id!)))).flat();
      expect(rows.filter((r) => r.step === "moosend.subscribe").map((r) => [r.status, r.vendorStatus])).toEqual(Array(6).fill(["succeeded", 200]));
      expect(rows.find((r) => r.step === "nothing.called")).toMatchObject({ status: "succeeded", vendorStatus: null });
    } finally {
      await db.close();
    }
  });
});
