import { KOMMO_MAX_PAGE, KommoClient, type KommoLead } from "@funnelsync/kommo-client";
import { startKommoSimulator, type KommoSimulator } from "@funnelsync/simulators";
import { randomUUID } from "node:crypto";
import { createRedisConnection, openJobQueues, type JobQueues } from "@funnelsync/jobs";
import type { Redis } from "ioredis";
import { KommoReader } from "@funnelsync/vendor-gateway";
import { RedisBurstSignal } from "../src/burstSignal";
import { TEST_REDIS_URL } from "../../../test/testEnv";
import { ManualClock } from "../../../test/manualClock";

/**
 * The reader on a clock the test moves: a burst's pace is the clock's, and pages go out (the simulator
 * answers over HTTP) between its steps, as if Kommo answered instantly, however loaded the machine is.
 */
describe("KommoReader against the Kommo simulator", () => {
  let sim: KommoSimulator;
  let clock: ManualClock;
  let redis: Redis;
  let queues: JobQueues;
  let signal: RedisBurstSignal;
  let reader: KommoReader;
  let asked = 0;
  let answered = 0;
  const leadPages = () => sim.requests.filter((r) => r.method === "GET" && r.path === "/api/v4/leads").map((r) => (r.query as { filter: { id: string[] } }).filter.id.length);

  beforeEach(async () => {
    sim = await startKommoSimulator();
    clock = new ManualClock();
    redis = createRedisConnection(TEST_REDIS_URL, "worker");
    const prefix = `test-${randomUUID()}`;
    queues = openJobQueues(redis, { prefix });
    // The worker's own burst signal: the jobs this process starts, and the changes queued in any.
    signal = new RedisBurstSignal({ redis, prefix, queues: queues.all, now: () => clock.now() });
    reader = new KommoReader(new KommoClient({ baseUrl: sim.url, accessToken: "sim-kommo-token", http: { retryBaseDelayMs: 0, timeoutMs: 2_000 } }), { burst: signal, clock });
    asked = answered = 0;
  });
  afterEach(async () => {
    signal.close();
    await queues.byKey.kommo.obliterate({ force: true });
    await queues.close();
    await redis.quit();
    await sim.close();
  });

  /** A Kommo-change job starts and looks up its lead, counted so that `settled` knows when the reader is through. */
  function lookUp(id: number): Promise<KommoLead | null> {
    asked++;
    signal.noteStarted();
    return reader.lead(id).finally(() => answered++);
  }

  /** Until the reader has done what it can at this moment: every look-up answered, or a page waiting on the clock for more. */
  async function settled(): Promise<void> {
    while (answered < asked && clock.sleeping === 0) await new Promise((resolve) => setImmediate(resolve));
  }

  /** Moves the clock on by `ms` in the reader's own 10-ms steps, letting it act at each. */
  async function pass(ms: number): Promise<void> {
    for (let passed = 0; passed < ms; passed += 10) {
      await settled();
      clock.advance(Math.min(10, ms - passed));
    }
    await settled();
  }

  /** Lets the clock run until every look-up is answered; their answers. */
  async function answers<T>(reads: Array<Promise<T>>): Promise<T[]> {
    while (answered < asked) await pass(10);
    return Promise.all(reads);
  }

  /**
   * Looks up 300 new leads, `perTick` every 10 ms (a burst's pace at the worker), pausing `pauseMs`
   * after the first `pauseAfter`; what Kommo answered for each.
   */
  async function lookUpAtPace(perTick: number, pause = { pauseAfter: Infinity, pauseMs: 0 }): Promise<unknown[]> {
    const leads = await Promise.all(Array.from({ length: 300 }, () => sim.addLead()));
    const reads: Array<Promise<unknown>> = [];
    for (let i = 0; i < leads.length; i += perTick) {
      for (const lead of leads.slice(i, i + perTick)) reads.push(lookUp(lead.id));
      await pass(i + perTick === pause.pauseAfter ? pause.pauseMs : 10);
    }
    return answers(reads);
  }

  it("reads a lone lead at once, on its own page", async () => {
    const lead = await sim.addLead();
    // No wait for company that is not coming.
    expect(await clock.withoutSleeping(() => lookUp(lead.id))).toMatchObject({ id: lead.id });
    expect(leadPages()).toEqual([1]);
  });

  it("under a burst, fills pages with the leads on their way instead of spending Kommo's calls on a few each", async () => {
    // 300 look-ups arrive over ~150 ms, 20 every 10 ms.
    const found = await lookUpAtPace(20);
    expect(found.every((lead) => lead !== null)).toBe(true);
    // The first 20 go at once (nothing says a burst is coming yet); the rest share few pages.
    expect(leadPages()[0]).toBe(20);
    expect(leadPages().length).toBeLessThanOrEqual(4);
  });

  it("sees a burst within its first page, not once a whole second has counted 50 leads", async () => {
    // 5 look-ups every 10 ms (500 a second): a second's count passes 50 only after 100 ms.
    const found = await lookUpAtPace(5);
    expect(found.every((lead) => lead !== null)).toBe(true);
    // Three small pages while the pace shows (seven, and Kommo's limit spent, when it took a second's count).
    expect(leadPages().reduce((a, b) => a + b, 0)).toBe(300);
    expect(leadPages().length).toBeLessThanOrEqual(5);
  });

  it("keeps filling a page through a pause of a busy worker's look-ups", async () => {
    // 100 look-ups, half a second of nothing (the worker busy taking in the burst), then 200 more.
    const found = await lookUpAtPace(20, { pauseAfter: 100, pauseMs: 500 });
    expect(found.every((lead) => lead !== null)).toBe(true);
    // The page that was filling when the pause came waits it out and goes full (with 300 ms it went with 80).
    expect(leadPages()).toContain(KOMMO_MAX_PAGE);
    expect(leadPages().length).toBeLessThanOrEqual(3);
  });

  /** `count` Kommo changes queued (in a queue no worker takes), seen by the signal before their look-ups arrive. */
  async function queueChanges(count: number): Promise<void> {
    const change = (leadId: number) => ({ leadId, pipelineId: 5001, statusId: 6002, oldStatusId: 6001, updatedAt: 1_760_000_000, accountId: 1, fingerprint: `f${leadId}` });
    await queues.add(Array.from({ length: count }, (_, i) => ({ name: "kommo.leadStatusChanged" as const, data: change(90_000 + i) })));
    await signal.subscribersComing(0, 0); // its first reading
  }

  it("fills its next page when Kommo changes are queued (in any process) before their look-ups arrive", async () => {
    await queueChanges(60);
    // Two look-ups 100 ms apart: with 60 changes queued, the first waits for company and both share a page.
    const [a, b] = await Promise.all([sim.addLead(), sim.addLead()]);
    const first = lookUp(a.id);
    await pass(100);
    await answers([first, lookUp(b.id)]);
    expect(leadPages()).toEqual([2]);
  });

  it("takes a few queued changes for no burst: a lone look-up still goes at once", async () => {
    await queueChanges(3);
    const lead = await sim.addLead();
    expect(await clock.withoutSleeping(() => lookUp(lead.id))).toMatchObject({ id: lead.id });
    expect(leadPages()).toEqual([1]);
  });
});
