import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { VendorRateLimitError } from "@funnelsync/vendor-http";
import { createRedisGate } from "@funnelsync/vendor-gateway";
import { TEST_REDIS_URL } from "../../../test/testEnv";

describe("the Redis gate's background limit (reconciling below live work)", () => {
  const redis = new Redis(TEST_REDIS_URL);
  afterAll(() => redis.quit());

  it("counts background calls in the live window and takes a slot only while the live work leaves room", async () => {
    const window = { max: 3, perMs: 60_000 };
    const gate = createRedisGate({
      redis,
      prefix: `test-${randomUUID()}`,
      limits: { kommo: { default: window, background: { max: 2, perMs: 60_000, window: "default" } }, moosend: { default: window }, loops: { default: window } },
      accounts: { kommo: "http://kommo.test" },
      maxWaitMs: 20,
    });
    await gate("kommo", "default");
    await gate("kommo", "background"); // two of three slots left before it: room
    await expect(gate("kommo", "background")).rejects.toBeInstanceOf(VendorRateLimitError); // only one left: kept for live work
    await gate("kommo", "default");
    await expect(gate("kommo", "default")).rejects.toBeInstanceOf(VendorRateLimitError); // one window for both
  });
});
