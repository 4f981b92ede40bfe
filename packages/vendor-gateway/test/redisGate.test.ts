import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { VendorBlockedError, type GateOutcome, type GateRelease } from "@funnelsync/vendor-http";
import { KOMMO_LIMITS } from "@funnelsync/kommo-client";
import { LOOPS_LIMITS } from "@funnelsync/loops-client";
import { MOOSEND_LIMITS } from "@funnelsync/moosend-client";
import { createRedisGate, type RedisGate } from "../src/redisGate";
import { TEST_REDIS_URL } from "../../../test/testEnv";

describe("the Redis gate's block, shared by every worker process", () => {
  let redis: Redis;
  let prefix: string;
  /** One gate per worker process: each its own instance, all on the same Redis keys. */
  const processGate = (): RedisGate =>
    createRedisGate({
      redis,
      prefix,
      limits: { kommo: KOMMO_LIMITS, moosend: MOOSEND_LIMITS, loops: LOOPS_LIMITS },
      accounts: { kommo: "https://acme.kommo.test" },
      blockedRecheckMs: 1_000,
    });
  const probeTimerRunsOut = async () => {
    const [key] = await redis.keys(`${prefix}:ratelimit:kommo:*:probe`);
    await redis.pexpire(key!, 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
  };
  const take = (gate: RedisGate) => (gate("kommo", "default") as Promise<GateRelease>).then((release) => ({ release }), (error: unknown) => ({ error }));
  const answered: GateOutcome = { answered: true, blocked: false };

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  beforeEach(() => {
    prefix = `test-${randomUUID()}`;
  });
  afterAll(() => redis.quit());

  it("stops every process once one was blocked, lets one probe through per interval, and lifts on a probe that got an answer", async () => {
    const [first, second] = [processGate(), processGate()];
    expect(await first.block("kommo")).toBe(1_000);
    expect((await second.state("kommo")).blockedSince).toBeGreaterThan(0);
    const refused = await take(second);
    expect(refused).toEqual({ error: expect.any(VendorBlockedError) });
    expect((refused as { error: VendorBlockedError }).error.retryAfterMs).toBe(1_000);

    // The probe interval is over: of two processes asking at once, exactly one gets the probe.
    await probeTimerRunsOut();
    const both = await Promise.all([take(first), take(second)]);
    const probes = both.filter((r): r is { release: GateRelease } => "release" in r);
    expect(probes).toHaveLength(1);
    await probes[0]!.release({ answered: true, blocked: true }); // still blocked: the interval starts again
    expect(await take(second)).toEqual({ error: expect.any(VendorBlockedError) });

    await probeTimerRunsOut();
    const probe = (await take(second)) as { release: GateRelease };
    await probe.release(answered);
    expect(await first.state("kommo")).toEqual({ pausedMs: 0 });
    expect(await take(first)).toEqual({ release: expect.any(Function) });
  });

  it("is lifted by an operator's unblock in any process, and says whether there was a block", async () => {
    const [worker, operator] = [processGate(), processGate()];
    await worker.block("kommo");
    expect(await operator.unblock("kommo", "operator")).toBe(true);
    expect(await take(worker)).toEqual({ release: expect.any(Function) });
    expect(await operator.unblock("kommo", "operator")).toBe(false);
  });

  it("shows a limit's window as every process shares it, without taking a slot", async () => {
    const [first, second] = [processGate(), processGate()];
    expect(await second.window("moosend", "subscribeMany")).toEqual({ waitMs: 0, spacedWaitMs: 0, free: 2 });
    await ((await first("moosend", "subscribeMany")) as GateRelease)(answered); // a bulk call, answered
    const afterOne = await second.window("moosend", "subscribeMany");
    expect(afterOne).toMatchObject({ waitMs: 0, free: 1 });
    // 2 per 10 s: the next call spaced evenly goes about 5 s after this one.
    expect(afterOne.spacedWaitMs).toBeGreaterThan(4_000);
    expect(afterOne.spacedWaitMs).toBeLessThanOrEqual(5_100);
    await ((await second("moosend", "subscribeMany")) as GateRelease)(answered);
    const full = await first.window("moosend", "subscribeMany");
    expect(full.free).toBe(0);
    expect(full.waitMs).toBeGreaterThan(9_000); // the first slot leaves the window 10 s after its answer
    expect(await first.window("moosend", "subscribe")).toEqual({ waitMs: 0, spacedWaitMs: 0, free: 10 }); // its own window
    await first.pause("moosend", 30_000);
    expect((await second.window("moosend", "subscribe")).waitMs).toBeGreaterThan(29_000);
  });
});
