import { execFile } from "node:child_process";
import { dirname, resolve } from "node:path";
import { REPO_ROOT, startHarness, uniqueEmail, uniqueId, eventually, type Harness } from "../../../test/harness";
import { cliEnv } from "./cliKit";

/** The bin npm links for `npx funnelsync`, run as a child process with only the given environment. */
function funnelsync(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = resolve(REPO_ROOT, "node_modules/.bin/funnelsync");
  return new Promise((done) => {
    execFile(bin, args, { cwd: REPO_ROOT, env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      done({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("npx funnelsync (the real bin, as a child process)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.stop());

  it("exits 2 with the one-line config error, and nothing on stdout, when a command that calls Kommo has no credentials", async () => {
    const run = await funnelsync(["backfill", "--pipeline", "5001"], { DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/funnelsync_test" });
    expect(run).toEqual({ code: 2, stdout: "", stderr: "config: KOMMO_ACCESS_TOKEN is required (or run `npm start` to use the local simulators)\n" });
  });

  it("exits 2 for an unknown command or a missing required option", async () => {
    expect(await funnelsync(["frobnicate"], cliEnv(h))).toMatchObject({ code: 2, stderr: expect.stringContaining("error: unknown command 'frobnicate'") });
    expect(await funnelsync(["backfill"], cliEnv(h))).toMatchObject({ code: 2, stderr: expect.stringContaining("error: required option '--pipeline <id>' not specified") });
  });

  it("exits 0 with every check passed against the simulators, and 1 when a check fails", async () => {
    const ok = await funnelsync(["config", "check", "--queue-prefix", h.prefix], cliEnv(h));
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^✓ kommo: access token accepted/);
    expect(ok.stdout).toMatch(/config check: all \d+ checks passed\n$/);
    const failing = await funnelsync(["config", "check", "--queue-prefix", h.prefix], cliEnv(h, { MOOSEND_API_KEY: "wrong-key-000" }));
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/^✗ moosend: cannot read the lists: moosend: GET \/lists\/1\/\d+\.json answered/m);
    expect(failing.stdout + failing.stderr).not.toContain("wrong-key-000");
  });

  it("exits 1 with one line naming the cause when Redis or Postgres cannot be reached", async () => {
    const noRedis = await funnelsync(["replay"], cliEnv(h, { REDIS_URL: "redis://127.0.0.1:1" }));
    expect(noRedis).toEqual({ code: 1, stdout: "", stderr: "funnelsync: cannot reach Redis at REDIS_URL: connect ECONNREFUSED 127.0.0.1:1\n" });
    const noPostgres = await funnelsync(["history", "--lead", "1"], cliEnv(h, { DATABASE_URL: "postgresql://postgres@127.0.0.1:1/funnelsync" }));
    expect(noPostgres).toEqual({ code: 1, stdout: "", stderr: "funnelsync: Can't reach database server at 127.0.0.1:1\n" });
  });

  it("prints a lead's history from the database and exits 0", async () => {
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Bea Lin", email: uniqueEmail("bea") });
    const lead = await h.kommo.addLead({ id: uniqueId(), contactId: contact.id, statusId: 6001 });
    await eventually(async () => (await h.worker!.db.outcomes.forLead(lead.id)).find((r) => r.step === "job" && r.status === "succeeded"));
    const run = await funnelsync(["history", "--lead", String(lead.id)], cliEnv(h));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`kommo-lead-${lead.id}-added`);
    expect(run.stdout).toMatch(new RegExp(`history: lead ${lead.id}, \\d+ entries\\n$`));
  });
});
