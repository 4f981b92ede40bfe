import { privateRedis } from "../../../test/fault/processes";
import { startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";
import { runCli } from "../src/cli";
import { cliEnv } from "./cliKit";

/**
 * A backfill checks every lead of a page for a job already queued while its earlier pages' jobs wait.
 * Redis runs one command at a time, so a check that scans the waiting list (LPOS, as BullMQ's
 * getJobState does for an id that is not there) grows with the backfill and holds up every worker.
 * In a Redis of its own, the commands Redis counted tell which look-up ran.
 */
describe("funnelsync backfill's look-up of jobs already queued", () => {
  let h: Harness | undefined;
  const redis = privateRedis(async () => h?.stop());

  it("reads each job's own record and never scans a queue's list", async () => {
    h = await startHarness({ worker: false, env: { REDIS_URL: redis.url() } });
    h.kommo.state.webhooks.length = 0; // old deals: nothing is delivered
    for (let i = 0; i < 260; i++) await h.kommo.addLead({ id: uniqueId(), name: `Old deal ${i}`, email: uniqueEmail("old"), statusId: 6002 });
    await redis.client().config("RESETSTAT");

    const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;
    const code = await runCli(["backfill", "--pipeline", "5001", "--status", "6002"], { stdout: quiet, stderr: quiet, env: cliEnv(h, { REDIS_URL: redis.url() }) });
    expect(code).toBe(0);

    const stats = await redis.client().info("commandstats");
    expect(stats).toMatch(/^cmdstat_hgetall:calls=(\d{3,})/m); // 260 look-ups or more
    expect(stats).not.toMatch(/^cmdstat_lpos:/m);
  });
});
