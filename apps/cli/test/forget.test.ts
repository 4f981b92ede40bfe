import { createHmac } from "node:crypto";
import { Client } from "pg";
import { createDb } from "@funnelsync/db";
import { createLogger } from "@funnelsync/logger";
import { eventually, LISTS, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";
import { TEST_DATABASE_URL, TEST_HASH_KEY } from "../../../test/testEnv";
import { startWorker } from "@funnelsync/worker";
import { cli, cliEnv } from "./cliKit";

const onList = (h: Harness, listId: string, email: string) => h.moosend.subscribers(listId).some((s) => s.Email.toLowerCase() === email.toLowerCase());
const hashOf = (email: string) => createHmac("sha256", TEST_HASH_KEY).update(email.trim().toLowerCase()).digest("hex");

/** Every text and JSON column of every table (information_schema), and how many rows of each mention `needle`. */
async function mentions(pg: Client, needle: string): Promise<Record<string, number>> {
  const { rows: columns } = await pg.query<{ table: string; column: string }>(
    `SELECT table_name AS "table", column_name AS "column" FROM information_schema.columns
     WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'json', 'jsonb')`,
  );
  expect(columns.length).toBeGreaterThan(20); // the search really covers the schema
  const found: Record<string, number> = {};
  for (const { table, column } of columns) {
    const { rows } = await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}" WHERE position(lower($1) in lower("${column}"::text)) > 0`, [needle]);
    if (rows[0]!.n > 0) found[`${table}.${column}`] = rows[0]!.n;
  }
  return found;
}

describe("funnelsync forget <email>", () => {
  let h: Harness;
  let pg: Client;
  const suppressed: string[] = [];

  beforeEach(async () => {
    h = await startHarness();
    pg = new Client({ connectionString: TEST_DATABASE_URL });
    await pg.connect();
  });
  afterEach(async () => {
    // Apps without the test key refuse to start while suppressions exist: leave none behind.
    await pg.query("DELETE FROM suppressions WHERE hash = ANY($1)", [suppressed.splice(0)]);
    await pg.end();
    await h.stop();
  });

  /** A synced person: on the New lead list and in Loops, with consent history and free-text mentions. */
  async function syncedPerson(name: string) {
    const email = uniqueEmail(name);
    suppressed.push(hashOf(email));
    const contact = await h.kommo.addContact({ id: uniqueId(), name: `${name} Example`, email, company: "Erase Ltd" });
    const lead = await h.kommo.addLead({ id: uniqueId(), name: "Erase deal", contactId: contact.id, statusId: 6001 });
    const jobDone = (jobName: string, statusId?: number) =>
      eventually(async () =>
        (await h.worker!.db.outcomes.forLead(lead.id)).find(
          (r) => r.step === "job" && r.jobName === jobName && ["succeeded", "skipped"].includes(r.status) && (statusId === undefined || r.jobId.includes(`-${statusId}-`)),
        ),
      );
    await jobDone("kommo.leadAdded");
    await h.kommo.moveLead(lead.id, 6002);
    await jobDone("kommo.leadStatusChanged", 6002);
    await eventually(() => onList(h, LISTS.newLead, email));
    const db = h.worker!.db;
    // History text elsewhere that names the address: another address's consent moved from it, a reason quoting it.
    const other = uniqueEmail("other");
    await db.consent.set({ email, state: "subscribed", source: "kommo", reason: "opt-in", eventRef: "kommo-contact-opt-in" });
    await db.consent.moveAddress(email, other);
    await db.outcomes.save({ jobId: `test-${uniqueId()}`, jobName: "moosend.webhook", step: "job", vendor: "moosend", action: "subscribe", status: "failed", reason: `${email.toUpperCase()} was ignored as invalid`, attempts: 1 });
    return { email, contact, lead, jobDone };
  }

  it("leaves no trace of the address in any text or JSON column but its keyed hash, and a later stage change subscribes nobody", async () => {
    const { email, contact, lead, jobDone } = await syncedPerson("Erase.Me");
    expect(Object.keys(await mentions(pg, email)).length).toBeGreaterThan(3); // the search finds what is there
    const kommoRecords = async () =>
      (await pg.query<{ n: number }>(
        "SELECT (SELECT count(*) FROM kommo_contact_leads WHERE contact_id = $1) + (SELECT count(*) FROM kommo_lead_states WHERE lead_id = $2) AS n",
        [contact.id, lead.id],
      )).rows[0]!.n;
    expect(Number(await kommoRecords())).toBe(2);

    const logFrom = h.logs.length;
    const run = await cli(h, ["forget", `  ${email.toUpperCase()} `], cliEnv(h));
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout.toLowerCase()).not.toContain(email.toLowerCase());
    expect(run.stdout).toMatch(/^forget: erased the address; kept suppression [0-9a-f]{12} \(a keyed hash only\)$/m);
    expect(run.stdout).toMatch(/^ {2}received_events: \d+ changed$/m);

    expect(await mentions(pg, email)).toEqual({});
    expect(await mentions(pg, hashOf(email))).toEqual({ "suppressions.hash": 1 });
    expect(Number(await kommoRecords())).toBe(0);

    const consent = await cli(h, ["consent", email]);
    expect(consent.stdout).toMatch(/: erased at \S+ \(forget\): only a keyed hash is kept/);
    const history = await cli(h, ["history", "--lead", String(lead.id)]);
    expect(history.stdout).toMatch(/-added\s+moosend\.subscribe\s+moosend\s+succeeded, personal data erased\s+200$/m);

    // Kommo still holds the contact: the lead moves to Closed - won (Moosend list, Loops event, welcome e-mail).
    const loopsCallsBefore = h.loops.requests.count((r) => r.path.startsWith("/api/v1/"));
    await h.kommo.moveLead(lead.id, 142);
    const won = await jobDone("kommo.leadStatusChanged", 142);
    expect(won).toMatchObject({ status: "skipped", reason: "erased on request" });
    expect(h.logs.slice(logFrom).join("").toLowerCase()).not.toContain(email.toLowerCase());
    expect(onList(h, LISTS.customers, email)).toBe(false);
    expect(h.loops.requests.count((r) => r.path.startsWith("/api/v1/"))).toBe(loopsCallsBefore);
    expect(await mentions(pg, email)).toEqual({});
  });

  it("changes nothing with --dry-run, and reports what it would erase", async () => {
    const { email } = await syncedPerson("Dry.Run");
    const before = await mentions(pg, email);

    const run = await cli(h, ["forget", email, "--dry-run", "--vendors"], cliEnv(h));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^forget \(dry run, nothing changed\): would erase the address/);
    expect(run.stdout).toMatch(/^ {2}consents: 2 to change$/m);
    expect(run.stdout).toContain(`  Moosend list ${LISTS.newLead}: would delete`);
    expect(run.stdout).toContain("  Loops contact by e-mail: would delete");

    expect(await mentions(pg, email)).toEqual(before);
    expect(await mentions(pg, hashOf(email))).toEqual({});
    expect(onList(h, LISTS.newLead, email)).toBe(true);
    expect(h.loops.contact(email)).toBeDefined();
  });

  it("deletes the person from the Moosend lists and from Loops with --vendors, and can run again", async () => {
    const { email } = await syncedPerson("Vendor.Erase");
    expect(h.loops.contact(email)).toBeDefined();
    const env = cliEnv(h);

    const run = await cli(h, ["forget", email, "--vendors"], env);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toContain(`  Moosend list ${LISTS.newLead}: deleted`);
    expect(run.stdout).toContain(`  Moosend list ${LISTS.customers}: not there`);
    expect(run.stdout).toContain("  Loops contact by e-mail: deleted");
    expect(onList(h, LISTS.newLead, email)).toBe(false);
    expect(h.loops.contact(email)).toBeUndefined();

    // Loops reports the deletion back (contact.deleted, contact.unsubscribed): nothing of it is stored.
    await h.loops.idle();
    await eventually(async () => (await pg.query("SELECT 1 FROM received_events WHERE kind = 'loops.webhook' AND processed_at > now() - interval '1 minute' AND payload ? 'erasedAt'")).rowCount! >= 2);
    expect(await mentions(pg, email)).toEqual({});

    const again = await cli(h, ["forget", email, "--vendors"], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^forget: the address was already erased \(suppression [0-9a-f]{12}\)\n {2}no personal data of it left in the database$/m);
    expect(again.stdout).toContain(`  Moosend list ${LISTS.newLead}: not there`);
    expect(again.stdout).toContain("  Loops contact by e-mail: not there");
  });

  it("needs only DATABASE_URL and the key without --vendors, and refuses with one line without the key", async () => {
    const email = uniqueEmail("minimal");
    suppressed.push(hashOf(email));
    const minimal = { DATABASE_URL: TEST_DATABASE_URL, FUNNELSYNC_CONFIG: cliEnv(h).FUNNELSYNC_CONFIG! };

    const refused = await cli(h, ["forget", email], minimal);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe("forget: FUNNELSYNC_HASH_KEY is required (generate one with `openssl rand -hex 32`; give the worker the same key)\n");

    const run = await cli(h, ["forget", email], { ...minimal, FUNNELSYNC_HASH_KEY: TEST_HASH_KEY });
    expect(run).toEqual({ code: 0, stdout: expect.stringMatching(/^forget: erased the address/), stderr: "" });

    const vendors = await cli(h, ["forget", email, "--vendors"], { ...minimal, FUNNELSYNC_HASH_KEY: TEST_HASH_KEY });
    expect(vendors.code).toBe(2);
    expect(vendors.stderr).toMatch(/^forget --vendors: the credentials of every vendor the mapping uses are required/);
  });

  it("keeps a worker from starting with another key (or none) once an address is suppressed", async () => {
    const { email } = await syncedPerson("Key.Check");
    await cli(h, ["forget", email], cliEnv(h));
    for (const hashKey of [undefined, "another-key-0123456789abcdef0123456789"]) {
      const db = createDb(TEST_DATABASE_URL, { hashKey });
      await expect(db.suppressions.checkKey()).rejects.toMatchObject({ name: "SuppressionKeyError", message: expect.stringContaining("FUNNELSYNC_HASH_KEY") });
      await db.close();
    }
    const logger = createLogger({ service: "test", level: "error" });
    await expect(startWorker({ config: { ...h.config, hashKey: "another-key-0123456789abcdef0123456789" }, logger, prefix: `${h.prefix}-other`, adminPort: null })).rejects.toThrow(
      /^\d+ erased address\(es\) were hashed with another FUNNELSYNC_HASH_KEY: set the key that `forget` used$/,
    );
    const same = createDb(TEST_DATABASE_URL, { hashKey: TEST_HASH_KEY });
    await expect(same.suppressions.checkKey()).resolves.toBeUndefined();
    await same.close();
  });
});
