import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { createDb } from "@funnelsync/db";
import { QUEUES } from "@funnelsync/jobs";
import { encodeKommoWebhook } from "@funnelsync/simulators";
import { isVendorRateLimitError, type VendorLimits } from "@funnelsync/vendor-http";
import { eventually, LISTS, REPO_ROOT, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";
import { TEST_DATABASE_URL, TEST_REDIS_URL } from "../../../test/testEnv";
import { createRedisGate, shareOfGate } from "@funnelsync/vendor-gateway";

const LAST_ENGAGEMENT = 880002;
const SCORE = 770003;
jest.setTimeout(60_000);

const engagementBlock = (coalesceSeconds: number) => `
engagement:
  notes: [opened, clicked]
  lastEngagementFieldId: ${LAST_ENGAGEMENT}
  score: { fieldId: ${SCORE}, opened: 1, clicked: 5 }
  taskOnClick: { text: "Follow up: clicked {subject}", dueHours: 24 }
  kommoCallsPerSecond: 3
  coalesceSeconds: ${coalesceSeconds}
`;

function mappingWithEngagement(coalesceSeconds = 0.5): string {
  const path = join(mkdtempSync(join(tmpdir(), "funnelsync-engagement-")), "funnelsync.yaml");
  writeFileSync(path, readFileSync(resolve(REPO_ROOT, "funnelsync.yaml"), "utf8") + engagementBlock(coalesceSeconds));
  return path;
}

describe("engagement back to sales: Loops opens and clicks on the Kommo card", () => {
  let h: Harness;
  /** Kommo's clock, which a test may stop so that two edits fall in one second. */
  let kommoNow: () => number;
  beforeEach(async () => {
    kommoNow = Date.now;
    h = await startHarness({ mappingPath: mappingWithEngagement(), kommo: { now: () => kommoNow() } });
  });
  afterEach(() => h.stop());

  /** A contact with an open lead, known to Loops through the forward sync. */
  async function person() {
    const email = uniqueEmail("nora");
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Nora Lind", email, company: "Lind AB" });
    const lead = await h.kommo.addLead({ id: uniqueId(), name: "Lind deal", contactId: contact.id, budget: 5000, statusId: 6001 });
    await eventually(() => h.loops.contact(email));
    return { email, contact, lead };
  }

  /** Every engagement of the address stored and written to Kommo. */
  async function applied(email: string, count: number) {
    await h.loops.idle();
    return eventually(async () => {
      const rows = await h.worker!.db.engagements.forEmails([email]);
      return rows.length === count && rows.every((r) => r.appliedAt !== null) && rows;
    });
  }

  const noteTexts = (entityType: "contacts" | "leads", id: number) => h.kommo.notesFor(entityType, id).map((n) => String(n.params.text));
  const fieldOf = (entity: { customFields: Array<{ fieldId: number; values: Array<{ value: unknown }> }> }, fieldId: number) =>
    h.kommo.fieldValues(entity as never, fieldId)[0];

  /**
   * Until the worker has done everything the Kommo webhooks so far asked of it: webhooks that came in
   * together wait in an `ingest.batch` job until it is split into their jobs, so both queues are empty.
   */
  async function kommoJobsDone() {
    const queues = h.worker!.queues.filter((q) => q.name === QUEUES.kommo || q.name === QUEUES.ingest);
    await h.kommo.settled();
    await eventually(async () => {
      const counts = await Promise.all(queues.map((queue) => queue.getJobCounts("waiting", "active", "delayed", "prioritized")));
      return counts.every((c) => Object.values(c).every((n) => n === 0));
    });
  }

  /**
   * Reads of this person's contact or lead (by id or by address). The database is shared with the test
   * files running alongside, so a flush may also take up an engagement another one left pending.
   */
  const kommoReads = (since: number, person: { email: string; contact: { id: number }; lead: { id: number } }) => {
    const about = [`"${person.contact.id}"`, `"${person.lead.id}"`, person.email.toLowerCase()];
    return h.kommo.requests
      .filter((r) => r.method === "GET" && (r.path === "/api/v4/contacts" || r.path === "/api/v4/leads") && r.at >= since)
      .filter((r) => about.some((needle) => JSON.stringify(r.query).toLowerCase().includes(needle))).length;
  };
  const espCalls = () => h.loops.requests.count() + h.moosend.requests.count();
  const echoSkips = async (since: Date) =>
    (await h.worker!.db.outcomes.since(since)).filter((row) => row.status === "skipped" && row.reason?.startsWith("engagement's own write coming back"));

  it("reads no contact or lead from Kommo for a person forward sync recorded, and leaves their lead alone once it is won", async () => {
    const { email, contact, lead } = await person();
    await h.kommo.moveLead(lead.id, 142);
    await eventually(async () => (await h.worker!.db.kommoRecords.leadStates([lead.id])).get(lead.id)?.statusId === 142);
    await kommoJobsDone();
    expect((await h.worker!.db.kommoRecords.contactLeads([contact.id])).get(contact.id)).toEqual([lead.id]);

    const since = Date.now();
    await h.loops.engage(email, "clicked", { subject: "Pricing" });
    await applied(email, 1);
    await kommoJobsDone();

    expect(kommoReads(since, { email, contact, lead })).toBe(0);
    expect(noteTexts("contacts", contact.id)).toHaveLength(1);
    expect(fieldOf(h.kommo.contact(contact.id)!, LAST_ENGAGEMENT)).toBeDefined();
    expect(noteTexts("leads", lead.id)).toEqual([]);
    expect(h.kommo.tasksFor("leads", lead.id)).toEqual([]);
    expect(fieldOf(h.kommo.lead(lead.id)!, SCORE)).toBeUndefined();
  });

  it("forgets a lead deleted in Kommo: out of its contact's recorded leads", async () => {
    const { contact, lead } = await person();
    await kommoJobsDone(); // no read of the lead from before its deletion is still on its way
    expect((await h.worker!.db.kommoRecords.leadStates([lead.id])).has(lead.id)).toBe(true);

    await h.kommo.deleteLead(lead.id);
    await kommoJobsDone();
    expect((await h.worker!.db.kommoRecords.leadStates([lead.id])).has(lead.id)).toBe(false);
    expect((await h.worker!.db.kommoRecords.contactLeads([contact.id])).get(contact.id)).toEqual([]);
  });

  it("reads the contact afresh when Kommo refuses a write naming a lead it deleted unannounced, and writes to the lead left", async () => {
    const { email, contact, lead } = await person();
    const gone = await h.kommo.addLead({ id: uniqueId(), contactId: contact.id, statusId: 6001 });
    await eventually(async () => (await h.worker!.db.kommoRecords.contactLeads([contact.id])).get(contact.id)?.length === 2);
    await kommoJobsDone();
    h.kommo.state.webhooks.length = 0; // the deletion is never announced
    await h.kommo.deleteLead(gone.id);

    const since = Date.now();
    await h.loops.engage(email, "clicked", { subject: "Pricing" });
    await applied(email, 1);

    expect(h.kommo.requests.count((r) => r.at >= since && r.status === 400)).toBe(1);
    expect(noteTexts("leads", lead.id)).toHaveLength(1);
    expect(h.kommo.tasksFor("leads", lead.id)).toHaveLength(1);
    expect(noteTexts("contacts", contact.id)).toHaveLength(1);
    expect((await h.worker!.db.kommoRecords.contactLeads([contact.id])).get(contact.id)).toEqual([lead.id]);
  });

  it("reads the contact and its leads from Kommo for a person forward sync has no record of, and records them for the next flush", async () => {
    h.kommo.state.webhooks.length = 0; // no forward sync: only the link, as an install before these records left it
    const email = uniqueEmail("vera");
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Vera Holm", email });
    const lead = await h.kommo.addLead({ id: uniqueId(), contactId: contact.id, statusId: 6001 });
    await h.worker!.db.links.upsert({ kommoContactId: contact.id, email });
    h.loops.addContact({ email });

    const since = Date.now();
    await h.loops.engage(email, "clicked", { emailId: "em_1", subject: "Pricing" });
    await applied(email, 1);
    expect(kommoReads(since, { email, contact, lead })).toBe(2);
    expect(noteTexts("leads", lead.id)).toHaveLength(1);
    expect(h.kommo.tasksFor("leads", lead.id)).toHaveLength(1);
    expect((await h.worker!.db.kommoRecords.contactLeads([contact.id])).get(contact.id)).toEqual([lead.id]);

    const later = Date.now();
    await h.loops.engage(email, "opened", { emailId: "em_2", subject: "Pricing, part 2" });
    await applied(email, 2);
    expect(kommoReads(later, { email, contact, lead })).toBe(0);
    expect(noteTexts("leads", lead.id)).toHaveLength(2);
  });

  it("takes the update_contact and update_lead webhooks of its own field writes for its own: no Moosend or Loops call", async () => {
    const { email } = await person();
    await kommoJobsDone();
    const before = espCalls();
    const since = new Date();

    await h.loops.engage(email, "opened", { subject: "Spring" });
    await applied(email, 1);
    await kommoJobsDone();

    const echoes = h.kommo.state.deliveries.filter((d) => d.at >= since.getTime() && (d.event === "update_contact" || d.event === "update_lead"));
    expect(echoes.map((d) => d.event).sort()).toEqual(["update_contact", "update_lead"]);
    expect(await echoSkips(since)).toHaveLength(2);
    expect(espCalls()).toBe(before);
  });

  it("knows the webhook of a field write that overtook the write's answer for its own, once the answer is in", async () => {
    const { contact } = await person();
    await kommoJobsDone();
    const before = espCalls();
    const since = new Date();
    const updatedAt = Math.floor(Date.now() / 1000) + 1;
    await h.worker!.db.engagements.saveFieldWrites("contacts", [{ id: contact.id, updatedAt: null }]);

    // Kommo's update_contact for the write, delivered before the write's answer is recorded.
    const { account } = h.kommo.state;
    const item = { id: contact.id, name: contact.name, updated_at: updatedAt, last_modified: updatedAt, type: "contact", custom_fields: [{ id: LAST_ENGAGEMENT, values: [updatedAt] }] };
    const body = encodeKommoWebhook({ contacts: { update: [item] }, account: { id: account.id, subdomain: account.subdomain } });
    const delivered = await fetch(h.kommoHookUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    expect(delivered.status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    await h.worker!.db.engagements.saveFieldWrites("contacts", [{ id: contact.id, updatedAt }]);

    await eventually(async () => (await echoSkips(since)).length === 1);
    await kommoJobsDone();
    expect(espCalls()).toBe(before);
  });

  it("still syncs someone's own edit of the contact made in the same second as its field write", async () => {
    const { email, contact } = await person();
    await kommoJobsDone();
    const second = Date.now();
    kommoNow = () => second;
    const since = new Date();

    await h.loops.engage(email, "opened", { subject: "Spring" });
    await applied(email, 1);
    await eventually(async () => (await echoSkips(since)).length === 2);
    await h.kommo.updateContact(contact.id, { company: "Berg AB" });

    await eventually(() => h.loops.contact(email)?.properties.company === "Berg AB");
    expect(h.kommo.contact(contact.id)!.updatedAt).toBe(Math.floor(second / 1000));
    expect(await echoSkips(since)).toHaveLength(2);
  });

  it("turns a click into one note on the contact and its lead, the last-engagement date and one follow-up task", async () => {
    const { email, contact, lead } = await person();
    const [click] = await h.loops.engage(email, "clicked", { subject: "Pricing for 2027", sourceType: "campaign", sourceId: "cm_pricing" });
    expect(click!.status).toBe(200);
    await applied(email, 1);

    expect(noteTexts("contacts", contact.id)).toEqual([expect.stringContaining('clicked a link in "Pricing for 2027"')]);
    expect(noteTexts("leads", lead.id)).toHaveLength(1);
    expect(fieldOf(h.kommo.contact(contact.id)!, LAST_ENGAGEMENT)).toBe((click!.payload as { eventTime: number }).eventTime);
    expect(h.kommo.tasksFor("leads", lead.id)).toEqual([
      expect.objectContaining({ text: "Follow up: clicked Pricing for 2027", responsibleUserId: h.kommo.lead(lead.id)!.responsibleUserId, isCompleted: false }),
    ]);
  });

  it("adds one note and one task when Kommo wrote them but the answers were lost, and the flush is retried", async () => {
    const { email, contact, lead } = await person();
    const lost = (method: string, path: string) => method === "POST" && (path === "/api/v4/contacts/notes" || path === "/api/v4/tasks");
    h.kommo.faults.only(lost).loseAnswerNext(2);
    await h.loops.engage(email, "clicked", { subject: "Pricing" });
    await applied(email, 1);

    expect(h.kommo.faults.pending).toBe(0);
    expect(noteTexts("contacts", contact.id)).toHaveLength(1);
    expect(noteTexts("leads", lead.id)).toHaveLength(1);
    expect(h.kommo.tasksFor("leads", lead.id)).toHaveLength(1);
  });

  it("folds five opens of one e-mail into one note that says how often", async () => {
    const { email, contact, lead } = await person();
    for (let i = 0; i < 5; i++) await h.loops.engage(email, "opened", { emailId: "em_nurture_1", subject: "Welcome to Lind", sourceType: "loop", sourceId: "lp_1" });
    await applied(email, 5);

    expect(noteTexts("contacts", contact.id)).toEqual([expect.stringContaining("(5 times)")]);
    expect(noteTexts("leads", lead.id)).toEqual([expect.stringContaining("(5 times)")]);
    expect(h.kommo.tasksFor("leads", lead.id)).toEqual([]);
  });

  it("writes the score formula (3 opens × 1 + 1 click × 5 = 8) to the lead as a value", async () => {
    const { email, lead } = await person();
    for (let i = 0; i < 3; i++) await h.loops.engage(email, "opened", { emailId: `em_${i}` });
    await h.loops.engage(email, "clicked", { emailId: "em_0" });
    await applied(email, 4);

    expect(Number(fieldOf(h.kommo.lead(lead.id)!, SCORE))).toBe(3 * 1 + 1 * 5);
  });

  it("brings a Moosend campaign's opens and clicks to the card, and overlapping polls store each once", async () => {
    const { email, contact, lead } = await person();
    const campaign = h.moosend.sendCampaign({ subject: "Autumn offer", listIds: [LISTS.newLead] });
    for (const type of ["Opened", "Opened", "LinkClicked"] as const) h.moosend.campaignActivity(campaign, email, type);
    const engagementQueue = h.worker!.queues.find((q) => q.name === QUEUES.engagement)!;
    const poll = (n: number) => engagementQueue.add("moosend.engagementPoll", { requestedAt: n }, { jobId: `moosend-engagement-poll-${n}` });
    await poll(1);
    await applied(email, 3);
    expect(noteTexts("contacts", contact.id).sort()).toEqual([
      expect.stringContaining('clicked a link in "Autumn offer"'),
      expect.stringMatching(/opened "Autumn offer" .*\(2 times\)/),
    ]);
    expect(Number(fieldOf(h.kommo.lead(lead.id)!, SCORE))).toBe(2 * 1 + 1 * 5);

    h.moosend.campaignActivity(campaign, email, "Opened");
    await poll(2);
    await applied(email, 4);
    await poll(3);
    await eventually(async () => (await engagementQueue.getJobState("moosend-engagement-poll-3")) === "completed");
    await applied(email, 4);
    expect(noteTexts("contacts", contact.id)).toHaveLength(2);
    expect(noteTexts("contacts", contact.id).find((t) => t.startsWith(`funnelsync: ${email} opened`))).toContain("(3 times)");
    expect(Number(fieldOf(h.kommo.lead(lead.id)!, SCORE))).toBe(3 * 1 + 1 * 5);
    expect(h.kommo.tasksFor("leads", lead.id)).toHaveLength(1);
  });

  it("counts redelivered webhooks once: no second note, task or score point", async () => {
    const { email, contact, lead } = await person();
    const [open] = await h.loops.engage(email, "opened", { emailId: "em_once", subject: "Hello" });
    const [click] = await h.loops.engage(email, "clicked", { emailId: "em_once", subject: "Hello" });
    await applied(email, 2);
    const before = { contactNotes: noteTexts("contacts", contact.id), leadNotes: noteTexts("leads", lead.id), score: fieldOf(h.kommo.lead(lead.id)!, SCORE) };

    // Past BullMQ's own dedupe window too: the stored identity alone must hold.
    const queue = h.worker!.queues.find((q) => q.name === QUEUES.engagement)!;
    for (const delivery of [open!, click!]) await queue.remove(`loops-${delivery.webhookId}`);
    for (const delivery of [open!, click!, open!]) expect((await h.loops.redeliver(delivery.webhookId)).status).toBe(200);
    await eventually(async () => (await queue.getJobCounts("waiting", "active")).waiting === 0 && (await queue.getJobState(`loops-${click!.webhookId}`)) === "completed");
    // Give the flush the redeliveries scheduled time to run.
    await new Promise((r) => setTimeout(r, 2_000));
    await applied(email, 2);

    expect(noteTexts("contacts", contact.id)).toEqual(before.contactNotes);
    expect(noteTexts("leads", lead.id)).toEqual(before.leadNotes);
    expect(before.contactNotes).toHaveLength(2);
    expect(fieldOf(h.kommo.lead(lead.id)!, SCORE)).toBe(before.score);
    expect(Number(before.score)).toBe(6);
    expect(h.kommo.tasksFor("leads", lead.id)).toHaveLength(1);
  });
});

describe("engagement under load: batched, and never in the way of opt-outs", () => {
  let h: Harness;
  afterEach(() => h.stop());

  /** People with a contact and an open lead each, linked and known to Loops as the forward sync leaves them. */
  async function crowd(size: number) {
    h.kommo.state.webhooks.length = 0; // only engagement talks to Kommo here
    const db = createDb(TEST_DATABASE_URL);
    const people: Array<{ email: string; contact: { id: number }; lead: { id: number } }> = [];
    try {
      for (let i = 0; i < size; i++) {
        const email = uniqueEmail(`crowd${i}`);
        const contact = await h.kommo.addContact({ id: uniqueId(), name: `Person ${i}`, email });
        const lead = await h.kommo.addLead({ id: uniqueId(), contactId: contact.id, statusId: 6002 });
        await db.links.upsert({ kommoContactId: contact.id, email });
        h.loops.addContact({ email });
        people.push({ email, contact, lead });
      }
    } finally {
      await db.close();
    }
    return people;
  }

  /** Starts the worker on what the webhooks stored and waits until all of it is in Kommo; returns Kommo's API calls meanwhile. */
  async function flushedByWorker(emails: string[], events: number, afterStart?: () => Promise<unknown>) {
    const before = h.kommo.requests.count((r) => r.path.startsWith("/api/v4/"));
    await h.startWorker();
    await afterStart?.();
    await eventually(async () => {
      const rows = await h.worker!.db.engagements.forEmails(emails);
      return rows.length === events && rows.every((r) => r.appliedAt !== null);
    }, 50_000);
    return h.kommo.requests.filter((r) => r.path.startsWith("/api/v4/")).slice(before);
  }

  it("keeps opens and clicks off the queue that carries unsubscribes and bounces", async () => {
    h = await startHarness({ worker: false, mappingPath: mappingWithEngagement() });
    const email = uniqueEmail("ola");
    h.loops.addContact({ email });
    for (let i = 0; i < 3; i++) await h.loops.engage(email, "opened", { emailId: "em_1" });
    await h.loops.unsubscribe(email);
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    try {
      const queueOf = (name: string) => new Queue(name, { connection, prefix: h.prefix });
      const esp = await queueOf(QUEUES.esp).getJobs(["waiting"]);
      const engagement = await queueOf(QUEUES.engagement).getJobs(["waiting"]);
      expect(esp.map((j) => j.data.eventName)).toEqual(["contact.unsubscribed"]);
      expect(engagement.map((j) => j.name)).toEqual(["loops.engagement", "loops.engagement", "loops.engagement"]);
    } finally {
      await connection.quit();
    }
  });

  // One flush is 7 calls (contacts, leads, two note batches, two field batches, tasks); the jobs may
  // straddle a window's end, so two flushes; unbatched this would be ~7 calls per person.
  it("writes 60 opens and clicks of 30 people with at most one Kommo call per four events", async () => {
    h = await startHarness({ worker: false, mappingPath: mappingWithEngagement(5) });
    const people = await crowd(30);
    await Promise.all(people.map((p) => h.loops.engage(p.email, "opened", { emailId: "em_launch", subject: "Launch" })));
    await Promise.all(people.map((p) => h.loops.engage(p.email, "clicked", { emailId: "em_launch", subject: "Launch" })));
    const calls = await flushedByWorker(people.map((p) => p.email), 60);

    expect(calls.length).toBeLessThanOrEqual(60 / 4);
    expect(calls.filter((r) => r.method === "POST" && r.path === "/api/v4/contacts/notes").length).toBeLessThanOrEqual(2);
    for (const p of people) {
      expect(h.kommo.notesFor("contacts", p.contact.id)).toHaveLength(2);
      expect(h.kommo.tasksFor("leads", p.lead.id)).toHaveLength(1);
    }
  });

  it("folds a window of more than 250 people into full batches: the clicks of the first and the last in one POST /tasks", async () => {
    h = await startHarness({ worker: false, mappingPath: mappingWithEngagement(300) });
    const people = await crowd(300);
    const clickers = [people[0]!, people[people.length - 1]!];
    const event = (email: string, kind: "opened" | "clicked") => ({ source: "loops" as const, eventKey: randomUUID(), email, kind, messageId: "em_wide", subject: "Wide", occurredAt: new Date() });
    // Stored as the webhooks would store them, and flushed once, so one flush carries all 302.
    const db = createDb(TEST_DATABASE_URL);
    try {
      await db.engagements.recordMany([...people.map((p) => event(p.email, "opened")), ...clickers.map((p) => event(p.email, "clicked"))]);
    } finally {
      await db.close();
    }
    const calls = await flushedByWorker(people.map((p) => p.email), 302, () =>
      h.worker!.queues.find((q) => q.name === QUEUES.engagementFlush)!.add("engagement.flush", { window: 0 }),
    );

    const count = (method: string, path: string) => calls.filter((r) => r.method === method && r.path === path).length;
    expect(count("POST", "/api/v4/tasks")).toBe(1);
    expect(count("POST", "/api/v4/leads/notes")).toBe(2);
    expect(count("PATCH", "/api/v4/leads")).toBe(2);
    for (const p of clickers) expect(h.kommo.tasksFor("leads", p.lead.id)).toHaveLength(1);
    expect(h.kommo.notesFor("contacts", people[150]!.contact.id)).toHaveLength(1);
  });
});

describe("engagement's share of Kommo's rate limit", () => {
  let redis: Redis;
  beforeEach(() => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  });
  afterEach(() => redis.quit());

  const minute = (max: number) => ({ max, perMs: 60_000 });
  /** A gate with Kommo's given limits per minute, that refuses instead of waiting. */
  const gateWith = (kommo: VendorLimits) =>
    createRedisGate({ redis, prefix: `test-${randomUUID()}`, maxWaitMs: 0, limits: { kommo, moosend: { default: minute(1) }, loops: { default: minute(1) } }, accounts: {} });
  /** Whether each of `n` calls in a row got a slot. */
  const slots = async (n: number, take: () => Promise<unknown>) => {
    const out: boolean[] = [];
    for (let i = 0; i < n; i++) out.push(await take().then(() => true, (error: unknown) => (isVendorRateLimitError(error) ? false : Promise.reject(error))));
    return out;
  };

  it("gives engagement at most its share of Kommo's window and leaves the rest to live sync", async () => {
    const gate = gateWith({ default: minute(7), engagement: minute(3) });
    const engagement = shareOfGate(gate, "engagement");
    expect(await slots(4, () => engagement("kommo", "default"))).toEqual([true, true, true, false]);
    expect(await slots(5, () => gate("kommo", "default"))).toEqual([true, true, true, true, false]);
  });

  it("takes engagement's slot of the shared window only while two are free, so live sync never waits behind it", async () => {
    const gate = gateWith({ default: minute(7), background: { ...minute(5), window: "default" }, engagement: minute(3) });
    const engagement = shareOfGate(gate, "engagement", "background");
    expect(await slots(4, () => gate("kommo", "default"))).toEqual([true, true, true, true]);
    expect(await slots(2, () => engagement("kommo", "default"))).toEqual([true, false]);
    expect(await slots(3, () => gate("kommo", "default"))).toEqual([true, true, false]);
  });
});
