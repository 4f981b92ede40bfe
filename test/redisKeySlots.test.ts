import calculateSlot from "cluster-key-slot";
import { KEY_PREFIX } from "@funnelsync/jobs";
import { runCli } from "../apps/cli/src/cli";
import { cliEnv } from "../apps/cli/test/cliKit";
import { privateRedis } from "./fault/processes";
import { eventually, LISTS, startHarness, uniqueEmail, uniqueId, type Harness } from "./harness";

/**
 * Redis Cluster runs a script or a transaction only on keys of one hash slot. In a Redis of their own,
 * ingest, the worker (its queues and the vendors' rate-limit windows) and the CLI's backfill write
 * keys; every one of them must share the slot of the deployment's prefix.
 */
describe("Redis keys of one deployment (Redis Cluster)", () => {
  let h: Harness | undefined;
  const redis = privateRedis(async () => h?.stop());

  it("all hash to the slot of the prefix's hash tag", async () => {
    expect(KEY_PREFIX).toMatch(/^\{[^{}]+\}$/);
    h = await startHarness({ prefix: KEY_PREFIX, env: { REDIS_URL: redis.url() } });
    const email = uniqueEmail("slot");
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Ana Slot", email, company: "Acme" });
    const lead = await h.kommo.addLead({ id: uniqueId(), name: "Cluster deal", contactId: contact.id, statusId: 6001 });
    await h.kommo.moveLead(lead.id, 6002);
    await eventually(() => h!.moosend.subscribers(LISTS.nurture).some((s) => s.Email === email));

    // The operator's backfill, with the CLI's own default prefix.
    const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;
    const code = await runCli(["backfill", "--pipeline", "5001", "--status", "6002"], { stdout: quiet, stderr: quiet, env: cliEnv(h, { REDIS_URL: redis.url() }) });
    expect(code).toBe(0);

    const keys = await redis.client().keys("*");
    expect(keys.some((k) => k.includes(":ratelimit:kommo:"))).toBe(true);
    expect(keys.some((k) => k.includes(":kommo-events:"))).toBe(true);
    const slot = calculateSlot(KEY_PREFIX);
    expect(keys.filter((k) => calculateSlot(k) !== slot)).toEqual([]);
  });
});
