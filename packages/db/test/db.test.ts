import { randomInt, randomUUID } from "node:crypto";
import { createDb, type Db, type OutcomeInput } from "@funnelsync/db";
import { TEST_DATABASE_URL } from "../../../test/testEnv";

// Real Postgres, shared with other test files running in parallel: every test uses its own ids
// and addresses, and nothing is truncated.
let db: Db;
beforeAll(() => {
  db = createDb(TEST_DATABASE_URL);
});
afterAll(() => db.close());

const uniqueEmail = () => `person-${randomUUID()}@example.test`;
const uniqueLeadId = () => randomInt(1, 2 ** 31 - 1);

function outcome(overrides: Partial<OutcomeInput> = {}): OutcomeInput {
  return {
    jobId: `test-${randomUUID()}`,
    jobName: "kommo.leadStatusChanged",
    step: "moosend.subscribe",
    vendor: "moosend",
    action: "subscribe",
    status: "running",
    attempts: 1,
    ...overrides,
  };
}

describe("outcomes", () => {
  it("keeps one row per (jobId, step), updated by each attempt", async () => {
    const first = await db.outcomes.save(outcome({ status: "running", reason: "timeout", attempts: 1 }));
    await db.outcomes.save(outcome({ jobId: first.jobId, status: "succeeded", attempts: 2, vendorStatus: 200, durationMs: 35 }));

    const rows = await db.outcomes.forJob(first.jobId);
    expect(rows).toEqual([
      expect.objectContaining({ id: first.id, status: "succeeded", attempts: 2, vendorStatus: 200, durationMs: 35, reason: null }),
    ]);
    expect(rows[0]!.updatedAt.getTime()).toBeGreaterThanOrEqual(first.updatedAt.getTime());
  });

  it("keeps the lead, contact and e-mail of an earlier attempt when a later one omits them", async () => {
    const leadId = uniqueLeadId();
    const first = await db.outcomes.save(outcome({ leadId, contactId: 77, email: "ana@example.test", idempotencyKey: "k-1" }));
    const second = await db.outcomes.save(outcome({ jobId: first.jobId, status: "failed", attempts: 2, vendorStatus: 500 }));

    expect(second).toEqual(expect.objectContaining({ leadId, contactId: 77, email: "ana@example.test", idempotencyKey: "k-1", status: "failed" }));
  });

  it("writes concurrent saves together, the latest input for a (job, step) winning, and a row Postgres refuses fails only its own save", async () => {
    const jobId = `test-${randomUUID()}`;
    const lone = db.outcomes.save(outcome()); // goes at once; the rest gather behind it
    const saves = Array.from({ length: 20 }, (_, i) => db.outcomes.save(outcome({ jobId, step: `step-${i}`, status: "succeeded" })));
    const overwritten = db.outcomes.save(outcome({ jobId, step: "step-0", status: "failed", reason: "later attempt" }));
    const refused = db.outcomes.save(outcome({ jobId, step: "bad", reason: "a NUL \u0000 byte" })); // text columns refuse NUL
    await lone;
    await expect(refused).rejects.toThrow();
    await Promise.all([...saves, overwritten]);

    const rows = await db.outcomes.forJob(jobId);
    expect(rows).toHaveLength(20);
    expect(rows.find((r) => r.step === "step-0")).toMatchObject({ status: "failed", reason: "later attempt" });
    expect(rows.find((r) => r.step === "step-19")).toMatchObject({ status: "succeeded" });
  });

  it("returns null for a step that has no row", async () => {
    const saved = await db.outcomes.save(outcome({ step: "moosend.subscribe" }));

    expect(await db.outcomes.get(saved.jobId, "loops.event")).toBeNull();
    expect(await db.outcomes.get(saved.jobId, "moosend.subscribe")).toEqual(expect.objectContaining({ id: saved.id }));
  });

  it("lists a lead's steps in the order they were first recorded", async () => {
    const leadId = uniqueLeadId();
    const jobId = `test-${randomUUID()}`;
    await db.outcomes.save(outcome({ jobId, leadId, step: "moosend.subscribe" }));
    await db.outcomes.save(outcome({ jobId, leadId, step: "loops.event", vendor: "loops", action: "sendEvent" }));
    await db.outcomes.save(outcome({ jobId, leadId, step: "moosend.subscribe", status: "succeeded", attempts: 2 }));

    expect((await db.outcomes.forLead(leadId)).map((r) => [r.step, r.status])).toEqual([
      ["moosend.subscribe", "succeeded"],
      ["loops.event", "running"],
    ]);
  });

  it("stores e-mails lower-case and finds them whatever their case", async () => {
    const email = uniqueEmail();
    await db.outcomes.save(outcome({ email: `  ${email.toUpperCase()} ` }));

    expect(await db.outcomes.forEmail(email.toUpperCase())).toEqual([expect.objectContaining({ email })]);
  });

  it("stores detail as JSON and an omitted detail as null", async () => {
    const withDetail = await db.outcomes.save(outcome({ detail: { listId: "L-1", at: new Date("2030-01-02T03:04:05Z") } }));
    const without = await db.outcomes.save(outcome());

    expect(withDetail.detail).toEqual({ listId: "L-1", at: "2030-01-02T03:04:05.000Z" });
    expect(without.detail).toBeNull();
  });

  it("lists rows updated since a time, filtered by status and vendor", async () => {
    const leadId = uniqueLeadId();
    const start = new Date(Date.now() - 1000);
    const failedMoosend = await db.outcomes.save(outcome({ leadId, status: "failed" }));
    await db.outcomes.save(outcome({ leadId, status: "succeeded" }));
    await db.outcomes.save(outcome({ leadId, status: "failed", vendor: "loops", step: "loops.event" }));

    const ours = (rows: { leadId: number | null }[]) => rows.filter((r) => r.leadId === leadId);
    expect(ours(await db.outcomes.since(start, { status: "failed", vendor: "moosend" }))).toEqual([
      expect.objectContaining({ id: failedMoosend.id }),
    ]);
    expect(ours(await db.outcomes.since(start))).toHaveLength(3);
    expect(ours(await db.outcomes.since(new Date(Date.now() + 60_000)))).toEqual([]);
  });

});

describe("events", () => {
  it("records an event once and answers false for the same dedupeKey", async () => {
    const leadId = uniqueLeadId();
    const event = { source: "kommo" as const, dedupeKey: `kommo-${randomUUID()}`, kind: "leads.status", leadId, payload: { statusId: 142 } };

    expect(await db.events.record(event)).toBe(true);
    expect(await db.events.record({ ...event, payload: { statusId: 143 } })).toBe(false);
    expect(await db.events.forLead(leadId)).toEqual([
      expect.objectContaining({ dedupeKey: event.dedupeKey, source: "kommo", payload: { statusId: 142 }, processedAt: null }),
    ]);
  });

  it("stamps processedAt once", async () => {
    const leadId = uniqueLeadId();
    const dedupeKey = `kommo-${randomUUID()}`;
    await db.events.record({ source: "kommo", dedupeKey, kind: "leads.add", leadId, payload: {} });

    await db.events.markProcessed(dedupeKey);
    const [first] = await db.events.forLead(leadId);
    await db.events.markProcessed(dedupeKey);
    const [second] = await db.events.forLead(leadId);

    expect(first!.processedAt).toBeInstanceOf(Date);
    expect(second!.processedAt).toEqual(first!.processedAt);
  });
});

describe("consent", () => {
  it("sets the state of a trimmed, lower-case address and appends it to the history", async () => {
    const email = uniqueEmail();
    await db.consent.set({ email: ` ${email.toUpperCase()}`, state: "unsubscribed", source: "loops", reason: "unsubscribed in Loops", eventRef: "wh-1" });

    expect(await db.consent.get(email)).toEqual(
      expect.objectContaining({ email, state: "unsubscribed", source: "loops", reason: "unsubscribed in Loops", eventRef: "wh-1" }),
    );
    expect(await db.consent.history(email)).toEqual([expect.objectContaining({ email, state: "unsubscribed", eventRef: "wh-1" })]);
  });

  it("treats unsubscribed, bounced and complained as withdrawn, subscribed and unknown as not", async () => {
    const states = ["unsubscribed", "bounced", "complained", "subscribed"] as const;
    const withdrawn: Record<string, boolean> = {};
    for (const state of states) {
      const email = uniqueEmail();
      await db.consent.set({ email, state, source: "moosend" });
      withdrawn[state] = await db.consent.isWithdrawn(email);
    }

    expect(withdrawn).toEqual({ unsubscribed: true, bounced: true, complained: true, subscribed: false });
    expect(await db.consent.isWithdrawn(uniqueEmail())).toBe(false);
  });

  it("keeps every change in the history, oldest first, and the latest as the state", async () => {
    const email = uniqueEmail();
    await db.consent.set({ email, state: "subscribed", source: "kommo", at: new Date("2030-01-01T00:00:00Z") });
    await db.consent.set({ email, state: "bounced", source: "moosend", at: new Date("2030-01-02T00:00:00Z") });
    await db.consent.set({ email, state: "subscribed", source: "kommo", reason: "opt-in set back to true", at: new Date("2030-01-03T00:00:00Z") });

    expect((await db.consent.history(email)).map((e) => e.state)).toEqual(["subscribed", "bounced", "subscribed"]);
    expect(await db.consent.get(email)).toEqual(expect.objectContaining({ state: "subscribed", changedAt: new Date("2030-01-03T00:00:00Z") }));
  });

  it("moves a person's withdrawal to their new address and keeps it on the old one", async () => {
    const oldEmail = uniqueEmail();
    const newEmail = uniqueEmail();
    await db.consent.set({ email: oldEmail, state: "bounced", source: "moosend", reason: "hard bounce", eventRef: "job-1" });

    await db.consent.moveAddress(oldEmail, newEmail.toUpperCase());

    expect(await db.consent.get(newEmail)).toEqual(expect.objectContaining({ state: "bounced", source: "moosend", eventRef: "job-1" }));
    expect(await db.consent.isWithdrawn(oldEmail)).toBe(true);
    expect(await db.consent.history(newEmail)).toEqual([expect.objectContaining({ state: "bounced", reason: `hard bounce (moved from ${oldEmail})` })]);
  });

  it("does not let a moved subscription override a withdrawal recorded for the new address", async () => {
    const oldEmail = uniqueEmail();
    const newEmail = uniqueEmail();
    await db.consent.set({ email: oldEmail, state: "subscribed", source: "kommo" });
    await db.consent.set({ email: newEmail, state: "complained", source: "loops" });

    await db.consent.moveAddress(oldEmail, newEmail);

    expect(await db.consent.get(newEmail)).toEqual(expect.objectContaining({ state: "complained", source: "loops" }));
  });

  it("moves nothing when the old address has no consent", async () => {
    const newEmail = uniqueEmail();

    await db.consent.moveAddress(uniqueEmail(), newEmail);

    expect(await db.consent.get(newEmail)).toBeNull();
    expect(await db.consent.history(newEmail)).toEqual([]);
  });
});

describe("links", () => {
  it("creates a link, then updates its address and clears only the ids given as null", async () => {
    const kommoContactId = uniqueLeadId();
    const firstEmail = uniqueEmail();
    const newEmail = uniqueEmail();
    await db.links.upsert({ kommoContactId, email: firstEmail, loopsContactId: "lc-1", loopsUserId: "u-1" });

    const updated = await db.links.upsert({ kommoContactId, email: newEmail.toUpperCase(), loopsUserId: null });

    expect(updated).toEqual(expect.objectContaining({ kommoContactId, email: newEmail, loopsContactId: "lc-1", loopsUserId: null }));
    expect(await db.links.get(kommoContactId)).toEqual(updated);
    expect(await db.links.byEmail(firstEmail)).toEqual([]);
    expect(await db.links.byEmail(newEmail)).toEqual([expect.objectContaining({ kommoContactId })]);
  });

  it("returns null for an unknown contact", async () => {
    expect(await db.links.get(uniqueLeadId())).toBeNull();
  });
});

describe("memberships", () => {
  it("lists the lists an address is on until it is removed, and again after it is re-added", async () => {
    const email = uniqueEmail();
    await db.memberships.add({ email, listId: "list-b", subscriberId: "s-1", kommoContactId: 5 });
    await db.memberships.add({ email: email.toUpperCase(), listId: "list-a" });
    expect(await db.memberships.activeLists(email)).toEqual(["list-a", "list-b"]);

    await db.memberships.markRemoved(email, "list-b");
    expect(await db.memberships.activeLists(email)).toEqual(["list-a"]);

    await db.memberships.add({ email, listId: "list-b" });
    expect(await db.memberships.activeLists(email)).toEqual(["list-a", "list-b"]);
  });

  it("keeps the last confirmation per list: a later add without one leaves it, another list has none", async () => {
    const email = uniqueEmail();
    const at = new Date("2026-12-03T10:00:00.000Z");
    await db.memberships.add({ email, listId: "list-a", subscriberId: "s-1", confirmedAt: at });
    await db.memberships.add({ email, listId: "list-a" });
    await db.memberships.add({ email, listId: "list-b" });

    expect(await db.memberships.confirmedAt(email.toUpperCase(), "list-a")).toEqual(at);
    expect(await db.memberships.confirmedAt(email, "list-b")).toBeNull();
    expect(await db.memberships.confirmedAt(uniqueEmail(), "list-a")).toBeNull();
  });

  it("ignores the removal of a membership it never recorded", async () => {
    const email = uniqueEmail();

    await db.memberships.markRemoved(email, "list-x");

    expect(await db.memberships.activeLists(email)).toEqual([]);
  });
});

describe("kommoRecords", () => {
  const lead = (id: number, contactIds: number[], updatedAt = 100, statusId = 6001) => ({ id, pipelineId: 5001, statusId, responsibleUserId: 7, updatedAt, contactIds });
  const at = (ms: number) => new Date(1_800_000_000_000 + ms);

  it("moves a lead between recorded contacts as its read names them, and gives none to a contact without a record", async () => {
    const [a, b, unrecorded, l1, l2] = [uniqueLeadId(), uniqueLeadId(), uniqueLeadId(), uniqueLeadId(), uniqueLeadId()];
    await db.kommoRecords.recordContacts([{ id: a, leadIds: [l2, l1], updatedAt: 100 }, { id: b, leadIds: [], updatedAt: 100 }], at(0));

    await db.kommoRecords.recordLeads([lead(l1, [b, unrecorded])], at(1));

    const recorded = await db.kommoRecords.contactLeads([a, b, unrecorded]);
    expect([...recorded]).toEqual(expect.arrayContaining([[a, [l2]], [b, [l1]]]));
    expect(recorded.has(unrecorded)).toBe(false);
  });

  it("keeps the newer of two reads, by Kommo's updated_at and then by when each was sent, whichever is recorded last", async () => {
    const [contactId, leadId, sameSecond] = [uniqueLeadId(), uniqueLeadId(), uniqueLeadId()];
    await db.kommoRecords.recordContacts([{ id: contactId, leadIds: [leadId], updatedAt: 200 }], at(0));
    await db.kommoRecords.recordContacts([{ id: contactId, leadIds: [], updatedAt: 199 }], at(5));
    await db.kommoRecords.recordLeads([lead(leadId, [contactId], 200, 142)], at(0));
    await db.kommoRecords.recordLeads([lead(leadId, [contactId], 199, 6001)], at(5));
    // Created and moved in one second: the read sent before the move is recorded after the one sent after it.
    await db.kommoRecords.recordLeads([lead(sameSecond, [], 300, 142)], at(10));
    await db.kommoRecords.recordLeads([lead(sameSecond, [], 300, 6001)], at(9));

    expect((await db.kommoRecords.contactLeads([contactId])).get(contactId)).toEqual([leadId]);
    const states = await db.kommoRecords.leadStates([leadId, sameSecond]);
    expect(states.get(leadId)).toMatchObject({ statusId: 142, responsibleUserId: 7 });
    expect(states.get(sameSecond)).toMatchObject({ statusId: 142 });
  });
});

describe("engagement field writes", () => {
  it("answers a webhook of a written entity and second `ours` once, one still unanswered `unanswered`, and any other `other`", async () => {
    const [answered, sent, never] = [uniqueLeadId(), uniqueLeadId(), uniqueLeadId()];
    await db.engagements.saveFieldWrites("contacts", [{ id: answered, updatedAt: 1_800_000_000 }, { id: sent, updatedAt: null }]);
    const edit = (entityId: number, updatedAt = 1_800_000_000) => ({ entityType: "contacts" as const, entityId, updatedAt });

    expect(await db.engagements.takeFieldWriteEchoes([edit(answered), edit(answered), edit(answered, 1_800_000_001), edit(sent), edit(never)], 60_000)).toEqual([
      "ours",
      "other",
      "other",
      "unanswered",
      "other",
    ]);
    expect(await db.engagements.takeFieldWriteEchoes([edit(answered)], 60_000)).toEqual(["other"]);
    await db.engagements.saveFieldWrites("contacts", [{ id: sent, updatedAt: 1_800_000_000 }]);
    expect(await db.engagements.takeFieldWriteEchoes([edit(sent)], 60_000)).toEqual(["ours"]);
  });
});

describe("watermarks", () => {
  it("returns null for an unknown key and the last value set otherwise", async () => {
    const key = `moosend-poll-${randomUUID()}`;
    expect(await db.watermarks.get(key)).toBeNull();

    await db.watermarks.set(key, "100");
    await db.watermarks.set(key, "250");

    expect(await db.watermarks.get(key)).toBe("250");
  });
});

describe("ping", () => {
  it("resolves while the database answers and rejects when it cannot be reached", async () => {
    const unreachable = createDb("postgresql://postgres@127.0.0.1:1/nowhere");
    try {
      await expect(db.ping()).resolves.toBeUndefined();
      await expect(unreachable.ping()).rejects.toThrow();
    } finally {
      await unreachable.close();
    }
  });
});
