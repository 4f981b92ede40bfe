import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { createRedisConnection, openJobQueues, type JobQueues } from "@funnelsync/jobs";
import type { Redis } from "ioredis";
import { RedisBurstSignal } from "../src/burstSignal";
import { TEST_REDIS_URL } from "../../../test/testEnv";

/** Two worker processes' signals on one Redis prefix, each on a clock the test moves. */
describe("RedisBurstSignal across worker processes", () => {
  let redis: Redis;
  let queues: JobQueues;
  let prefix: string;
  let clock = 0;
  const signal = () => new RedisBurstSignal({ redis, prefix, queues: queues.all, now: () => clock });

  beforeEach(() => {
    redis = createRedisConnection(TEST_REDIS_URL, "worker");
    prefix = `test-${randomUUID()}`;
    queues = openJobQueues(redis, { prefix });
  });
  afterEach(async () => {
    await queues.byKey.kommo.obliterate({ force: true });
    await queues.close();
    await redis.quit();
  });

  async function queueChanges(count: number): Promise<void> {
    const change = (leadId: number) => ({ leadId, pipelineId: 5001, statusId: 6002, oldStatusId: 6001, updatedAt: 1_760_000_000, accountId: 1, fingerprint: `f${leadId}` });
    await queues.add(Array.from({ length: count }, (_, i) => ({ name: "kommo.leadStatusChanged" as const, data: change(80_000 + i) })));
  }

  it("counts the changes on their way in every process, less the subscribers already waiting in any of them", async () => {
    await queueChanges(1_000);
    const [a, b] = [signal(), signal()];
    expect(await b.subscribersComing(0, 100)).toBe(1_000 - 100); // alone so far
    clock += 1_000; // past the reading's lifetime: the next call reads again
    // 1,000 queued, 300 + 100 of them already waiting in the two processes: 600 to come.
    expect(await a.subscribersComing(0, 300)).toBe(600);
    // 500 not started per process: a burst at 500 a second, not at 501.
    expect([a.changesArriving(500), a.changesArriving(501)]).toEqual([true, false]);
  });

  it("counts the jobs each process starts as more on the way within the horizon", async () => {
    const a = signal();
    for (let i = 0; i < 100; i++) a.noteStarted(); // 100 within the last second: 0.1 per ms
    expect(await a.subscribersComing(1_000, 0)).toBe(100);
  });

  it("sees changes arriving from the jobs this process started in the last quarter second or the last second", async () => {
    const a = signal();
    for (let i = 0; i < 15; i++) a.noteStarted(); // 15 within a quarter second: 60 a second
    expect([a.changesArriving(50), a.changesArriving(61)]).toEqual([true, false]);
    clock += 500; // out of the last quarter second; over the whole second, 15 a second
    expect([a.changesArriving(15), a.changesArriving(16)]).toEqual([true, false]);
  });

  it("stops counting a process that no longer reports (it stopped)", async () => {
    await queueChanges(100);
    const [a, b] = [signal(), signal()];
    await b.subscribersComing(0, 0);
    await a.subscribersComing(0, 0);
    expect([a.changesArriving(50), a.changesArriving(51)]).toEqual([true, false]); // 100 queued, 2 processes
    await sleep(2_100); // Redis' clock dates the reports
    clock += 1_000;
    await a.subscribersComing(0, 0);
    expect(a.changesArriving(100)).toBe(true); // alone again: all 100 are its own
  });
});
