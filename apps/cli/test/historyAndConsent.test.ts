import { QUEUES } from "@funnelsync/jobs";
import { eventually, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";
import { TEST_DATABASE_URL } from "../../../test/testEnv";
import { leadHistory } from "../src/commands/history";
import { cli } from "./cliKit";

describe("funnelsync history and consent (rows the worker wrote)", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.stop());

  it("shows every event received and every step of a lead in time order, as a table", async () => {
    const email = uniqueEmail("hana");
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Hana Ito", email, company: "Ito KK" });
    const lead = await h.kommo.addLead({ id: uniqueId(), name: "Ito deal", contactId: contact.id, statusId: 6001 });
    const done = (jobName: string) =>
      eventually(async () => (await h.worker!.db.outcomes.forLead(lead.id)).find((r) => r.step === "job" && r.jobName === jobName && r.status === "succeeded"));
    await done("kommo.leadAdded");
    await h.kommo.moveLead(lead.id, 6002);
    const moved = await done("kommo.leadStatusChanged");
    // The job's event is stamped processed just after its last row is written.
    await eventually(async () => (await h.worker!.db.events.forLead(lead.id)).find((e) => e.dedupeKey === moved.jobId)?.processedAt ?? undefined);

    const entries = await leadHistory(h.worker!.db, lead.id);
    expect(entries.map((e) => e.at.getTime())).toEqual([...entries.map((e) => e.at.getTime())].sort((a, b) => a - b));
    const ofMove = entries.filter((e) => e.job === moved.jobId);
    expect(ofMove[0]).toMatchObject({ step: "received", vendor: "kommo", status: "processed", reason: "kommo.leadStatusChanged" });
    expect(ofMove.map((e) => e.step)).toEqual(expect.arrayContaining(["received", "moosend.subscribe", "loops.event.nurture_started", "job"]));
    expect(ofMove.at(-1)).toMatchObject({ step: "job", status: "succeeded" });

    const run = await cli(h, ["history", "--lead", String(lead.id)]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^time\s+job\s+step\s+vendor\s+status\s+vendor status\s+reason$/);
    expect(lines).toHaveLength(entries.length + 2);
    expect(lines.at(-1)).toBe(`history: lead ${lead.id}, ${entries.length} entries`);
    const subscribe = lines.find((l) => l.includes(moved.jobId) && l.includes("moosend.subscribe"));
    expect(subscribe).toMatch(/^\d{4}-\d{2}-\d{2}T\S+Z\s+kommo-lead-\S+\s+moosend\.subscribe\s+moosend\s+succeeded\s+200$/);
    expect(lines.findIndex((l) => l.includes(moved.jobId) && / received /.test(l))).toBeLessThan(lines.indexOf(subscribe!));
  });

  it("tells each step's outcome in the job's own log too (the dashboard's Logs tab), without the address", async () => {
    const email = uniqueEmail("Logged.Person");
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Logged Person", email });
    const lead = await h.kommo.addLead({ id: uniqueId(), name: "Logged deal", contactId: contact.id, statusId: 6001 });
    const added = await eventually(async () =>
      (await h.worker!.db.outcomes.forLead(lead.id)).find((r) => r.step === "job" && r.jobName === "kommo.leadAdded" && r.status === "succeeded"),
    );

    const rows = await h.worker!.db.outcomes.forJob(added.jobId);
    const queue = h.worker!.queues.find((q) => q.name === QUEUES.kommo)!;
    const { logs } = await queue.getJobLogs(added.jobId);
    expect(logs.map((line) => line.split(":")[0])).toEqual(rows.map((r) => r.step));
    expect(logs.find((line) => line.startsWith("moosend.subscribe:"))).toBe(`moosend.subscribe: succeeded · moosend answered 200 · lead ${lead.id} · contact ${contact.id}`);
    expect(logs.at(-1)).toBe(`job: succeeded · lead ${lead.id}`);
    expect(logs.join("\n").toLowerCase()).not.toContain(email.toLowerCase());
  });

  it("reads history and consent with DATABASE_URL alone: no mapping file, Redis or vendor credentials", async () => {
    const email = uniqueEmail("only.db");
    const lead = uniqueId();
    await h.worker!.db.events.record({ source: "kommo", dedupeKey: `kommo-lead-${lead}-added`, kind: "kommo.leadAdded", leadId: lead, payload: {} });
    await h.worker!.db.consent.set({ email, state: "unsubscribed", source: "loops", reason: "contact.unsubscribed" });
    const onlyDatabase = { DATABASE_URL: TEST_DATABASE_URL, FUNNELSYNC_CONFIG: "/nonexistent/funnelsync.yaml", REDIS_URL: "redis://127.0.0.1:1" };

    const history = await cli(h, ["history", "--lead", String(lead)], onlyDatabase);
    expect(history).toMatchObject({ code: 0, stderr: "" });
    expect(history.stdout).toContain(`history: lead ${lead}, 1 entry`);
    const consent = await cli(h, ["consent", email], onlyDatabase);
    expect(consent).toMatchObject({ code: 0, stderr: "" });
    expect(consent.stdout).toContain(`${email}: unsubscribed`);
  });

  it("says when nothing was recorded for a lead", async () => {
    const run = await cli(h, ["history", "--lead", "39999998"]);
    expect(run).toEqual({ code: 0, stdout: "history: nothing recorded for lead 39999998\n", stderr: "" });
  });

  it("shows an address's current consent with source, time, reason and event, then its history oldest first", async () => {
    const email = uniqueEmail("Consent.Person");
    const db = h.worker!.db;
    await db.consent.set({ email, state: "unsubscribed", source: "loops", reason: "contact.unsubscribed", eventRef: "loops-msg_1", at: new Date("2026-11-20T10:00:00Z") });
    await db.consent.set({ email, state: "subscribed", source: "kommo", reason: "opt-in set in Kommo", eventRef: "kommo-contact-1-update", at: new Date("2026-11-21T09:30:00Z") });
    await db.consent.set({ email, state: "bounced", source: "moosend", reason: "hard bounce", eventRef: "moosend-abc", at: new Date("2026-11-22T08:15:00Z") });

    const run = await cli(h, ["consent", `  ${email.toUpperCase()} `]);
    expect(run.code).toBe(0);
    const address = email.toLowerCase();
    expect(run.stdout).toContain(
      [
        `${address}: bounced`,
        "  source  moosend",
        "  since   2026-11-22T08:15:00.000Z",
        "  reason  hard bounce",
        "  event   moosend-abc",
        "  no stage change subscribes this address again; only an explicit opt-in in Kommo or the person's own re-subscribe lifts it",
      ].join("\n"),
    );
    const history = run.stdout.split("\n\n")[1]!.trimEnd().split("\n");
    expect(history[0]).toMatch(/^time\s+state\s+source\s+reason\s+event$/);
    expect(history.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 3))).toEqual([
      ["2026-11-20T10:00:00.000Z", "unsubscribed", "loops"],
      ["2026-11-21T09:30:00.000Z", "subscribed", "kommo"],
      ["2026-11-22T08:15:00.000Z", "bounced", "moosend"],
    ]);
  });

  it("says when an address has no consent row, and refuses something that is not an address with exit 2", async () => {
    const email = uniqueEmail("nobody");
    expect(await cli(h, ["consent", email])).toEqual({ code: 0, stdout: `${email}: no consent recorded (nothing withdrawn: stage changes subscribe it)\n`, stderr: "" });
    expect(await cli(h, ["consent", "not-an-address"])).toEqual({ code: 2, stdout: "", stderr: 'consent: not an e-mail address: "not-an-address"\n' });
  });
});
