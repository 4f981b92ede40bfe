import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import { LISTS, REPO_ROOT, startHarness, type Harness } from "../../../test/harness";
import { TEST_REDIS_URL } from "../../../test/testEnv";
import { cli, cliEnv } from "./cliKit";

describe("funnelsync config check (against the simulators)", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ worker: false });
  });
  afterEach(() => h.stop());

  /** The example mapping with `edit` applied to its text, written to a temporary file. */
  function mappingWith(edit: (yaml: string) => string): string {
    const path = join(mkdtempSync(join(tmpdir(), "funnelsync-cli-")), "funnelsync.yaml");
    writeFileSync(path, edit(readFileSync(resolve(REPO_ROOT, "funnelsync.yaml"), "utf8")));
    return path;
  }
  const lines = (text: string) => text.trim().split("\n");

  it("passes every check of the example mapping against the seeded accounts and exits 0", async () => {
    const run = await cli(h, ["config", "check"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    const out = lines(run.stdout);
    expect(out.filter((l) => l.startsWith("✗"))).toEqual([]);
    expect(out).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^✓ kommo: access token accepted \(\d+ pipelines?\)$/),
        '✓ kommo: pipeline 5001 "Sales" exists',
        '✓ kommo: stage 5001/6002 "Nurture" exists',
        '✓ kommo: stage 5001/142 "Closed - won" exists',
        '✓ kommo: field 770001 "Company" exists (contact field)',
        '✓ kommo: field 770002 "Budget" exists (lead field)',
        '✓ kommo: opt-in field 880001 "Email opt-in" is a contact checkbox',
        `✓ moosend: list ${LISTS.nurture} "Nurture" exists`,
        '✓ moosend: list "Customers" has the custom fields Company, Budget',
        expect.stringMatching(/^✓ loops: API key accepted \(team ".+"\)$/),
        "✓ loops: contact property company (string) exists",
        "✓ loops: contact property budget (number) exists",
        '✓ loops: transactional e-mail cm_welcome_01 "Welcome" is published; funnelsync sends all its data variables',
      ]),
    );
    expect(out.at(-1)).toMatch(/^config check: all \d+ checks passed$/);
  });

  it("marks each status, field, list and property the accounts lack with ✗, and exits 1", async () => {
    const path = mappingWith((yaml) =>
      yaml
        .replace("statusId: 6002", "statusId: 6099")
        .replace("kommoFieldId: 770002", "kommoFieldId: 770099")
        .replace("moosend: Budget", "moosend: Region")
        .replace("loops: budget", "loops: region")
        .replace("0b6f5a1e-0000-4000-8000-000000000003", "0b6f5a1e-0000-4000-8000-0000000000ff"),
    );
    const run = await cli(h, ["config", "check"], cliEnv(h, { FUNNELSYNC_CONFIG: path }));
    expect(run.code).toBe(1);
    const failed = lines(run.stdout).filter((l) => l.startsWith("✗"));
    expect(failed).toEqual([
      '✗ kommo: pipeline 5001 "Sales" has no status 6099',
      "✗ kommo: field 770099 is neither a lead nor a contact field",
      '✗ moosend: list "New leads" lacks the custom field Region',
      '✗ moosend: list "Nurture" lacks the custom field Region',
      "✗ moosend: list 0b6f5a1e-0000-4000-8000-0000000000ff does not exist",
      '✗ loops: no contact property "region"',
    ]);
    expect(lines(run.stdout).at(-1)).toMatch(/^config check: 6 of \d+ checks failed$/);
  });

  it("checks the engagement block's fields: the contact date field and the lead numeric score field", async () => {
    const withEngagement = (dateField: number, scoreField: number) =>
      mappingWith((yaml) => `${yaml}\nengagement:\n  lastEngagementFieldId: ${dateField}\n  score: { fieldId: ${scoreField}, opened: 1, clicked: 5 }\n`);
    const good = await cli(h, ["config", "check"], cliEnv(h, { FUNNELSYNC_CONFIG: withEngagement(880002, 770003) }));
    expect(good.code).toBe(0);
    expect(lines(good.stdout)).toEqual(
      expect.arrayContaining([
        '✓ kommo: last-engagement field 880002 "Last e-mail engagement" is a contact date field',
        '✓ kommo: score field 770003 "E-mail score" is a lead numeric field',
      ]),
    );
    const bad = await cli(h, ["config", "check"], cliEnv(h, { FUNNELSYNC_CONFIG: withEngagement(880001, 770099) }));
    expect(bad.code).toBe(1);
    expect(lines(bad.stdout).filter((l) => l.startsWith("✗"))).toEqual([
      '✗ kommo: last-engagement field 880001 "Email opt-in" is a checkbox field, not a date field',
      "✗ kommo: score field 770099 is not a lead field",
    ]);
  });

  it("fails a transactional e-mail Loops has not published, and one whose template needs a variable no field fills", async () => {
    const missing = await cli(h, ["config", "check"], cliEnv(h, { FUNNELSYNC_CONFIG: mappingWith((yaml) => yaml.replace("cm_welcome_01", "cm_welcome_02")) }));
    expect(missing.code).toBe(1);
    expect(lines(missing.stdout).filter((l) => l.startsWith("✗"))).toEqual(["✗ loops: transactional e-mail cm_welcome_02 is not published (or does not exist)"]);

    h.loops.state.templates.get("cm_welcome_01")!.dataVariables.push("couponCode", "dealValue");
    const unfilled = await cli(h, ["config", "check"]);
    expect(unfilled.code).toBe(1);
    expect(lines(unfilled.stdout).filter((l) => l.startsWith("✗"))).toEqual([
      '✗ loops: transactional e-mail cm_welcome_01 "Welcome" uses data variable couponCode, which funnelsync never sends (map a field to it)',
    ]);
  });

  it("reports a pipeline the account does not have, and a rejected Loops key, without stopping the other checks", async () => {
    const path = mappingWith((yaml) => yaml.replace("pipelineId: 5001", "pipelineId: 5009"));
    const run = await cli(h, ["config", "check"], cliEnv(h, { FUNNELSYNC_CONFIG: path, LOOPS_API_KEY: "not-the-key" }));
    expect(run.code).toBe(1);
    const out = lines(run.stdout);
    expect(out).toContainEqual(expect.stringMatching(/^✗ kommo: pipeline 5009 does not exist \(the account has 5001, /));
    expect(out).toContainEqual(expect.stringMatching(/^✗ loops: cannot check the API key: loops: GET \/api-key answered 401/));
    expect(out).toContainEqual(`✓ moosend: list ${LISTS.newLead} "New leads" exists`);
    expect(run.stdout + run.stderr).not.toContain("not-the-key");
  });

  it("counts its vendor requests in the worker's shared Redis rate-limit windows", async () => {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      expect(await redis.keys(`${h.prefix}:ratelimit:*`)).toEqual([]);
      await cli(h, ["config", "check"]);
      const keys = await redis.keys(`${h.prefix}:ratelimit:*`);
      expect(keys.some((k) => k.startsWith(`${h.prefix}:ratelimit:kommo:`))).toBe(true);
      expect(keys.some((k) => k.startsWith(`${h.prefix}:ratelimit:moosend:`))).toBe(true);
      expect(keys.some((k) => k.startsWith(`${h.prefix}:ratelimit:loops:`))).toBe(true);
      const kommoKey = keys.find((k) => k.startsWith(`${h.prefix}:ratelimit:kommo:`))!;
      const kommoRequests = h.kommo.requests.count((r) => r.path.startsWith("/api/v4/"));
      expect(await redis.zcard(kommoKey)).toBe(kommoRequests);
    } finally {
      redis.disconnect();
    }
  });

  it("stops with exit 2 and the one-line config error when a credential is missing", async () => {
    const env = cliEnv(h);
    delete env.MOOSEND_API_KEY;
    const run = await cli(h, ["config", "check"], env);
    expect(run).toEqual({ code: 2, stdout: "", stderr: "config: MOOSEND_API_KEY is required (or run `npm start` to use the local simulators)\n" });
  });
});
