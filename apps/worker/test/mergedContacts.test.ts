import { jobIdFor } from "@funnelsync/jobs";
import { eventually, LISTS, queuesDrained, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";

jest.setTimeout(90_000);

/** Kommo merges duplicate contacts in the background: the loser is deleted, its leads and addresses go to the survivor. */
describe("contacts merged in Kommo", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.stop());

  const loopsContacts = () => [...h.loops.state.contacts.values()];
  const loopsContact = (email: string) => loopsContacts().find((c) => c.email === email);
  const subscribedTo = (listId: string, email: string) => h.moosend.subscribers(listId).some((s) => s.Email === email && s.Status === "Subscribed");
  const leadJobDone = (leadId: number, jobName: string, status = "succeeded") =>
    eventually(async () => (await h.worker!.db.outcomes.forLead(leadId)).find((r) => r.step === "job" && r.jobName === jobName && r.status === status));

  /** A contact whose lead was synced (Loops keyed by its id, Moosend's New lead list), then opted out in Loops. */
  async function optedOutDuplicate(options: { drain: boolean } = { drain: true }) {
    const email = uniqueEmail("rita");
    const lead = await h.kommo.addLead({ id: uniqueId(), statusId: 6001, contact: { id: uniqueId(), name: "Rita Alves", email } });
    const contactId = lead.contacts[0]!.id;
    await leadJobDone(lead.id, "kommo.leadAdded");
    await eventually(() => loopsContact(email)?.userId === String(contactId) && subscribedTo(LISTS.newLead, email));
    await h.loops.unsubscribe(email);
    await eventually(async () => (await h.worker!.db.consent.get(email))?.state === "unsubscribed");
    if (options.drain) await queuesDrained(h);
    return { email, lead, contactId };
  }

  /** What a merge must leave alone or hand over, for comparing before and after a repeat. */
  async function snapshot(emails: string[], contactIds: number[]) {
    const db = h.worker!.db;
    return {
      loops: loopsContacts().map((c) => ({ email: c.email, userId: c.userId, subscribed: c.subscribed })),
      links: await Promise.all(contactIds.map((id) => db.links.get(id).then((l) => l && { ...l, updatedAt: undefined }))),
      consent: await Promise.all(emails.map(async (e) => ({ row: await db.consent.get(e), history: (await db.consent.history(e)).length }))),
    };
  }

  it("re-keys the duplicate's Loops contact to the survivor, keeps its opt-out, and a later move of its lead subscribes nobody", async () => {
    const loser = await optedOutDuplicate();
    // The survivor came from a phone call: no address, so nothing of it was synced.
    const survivorLead = await h.kommo.addLead({ id: uniqueId(), statusId: 6001, contact: { id: uniqueId(), name: "Rita Alves", phone: "+5511990001234" } });
    const survivorId = survivorLead.contacts[0]!.id;
    await leadJobDone(survivorLead.id, "kommo.leadAdded", "skipped");
    const loopsId = loopsContact(loser.email)!.id;
    const consentBefore = await h.worker!.db.consent.history(loser.email);
    const listsBefore = await h.worker!.db.memberships.activeLists(loser.email);

    await h.kommo.mergeContacts(survivorId, loser.contactId);
    expect(h.kommo.lead(loser.lead.id)!.contacts).toEqual([{ id: survivorId, isMain: true }]);
    await eventually(async () => (await h.worker!.db.links.get(loser.contactId)) === null);
    await queuesDrained(h);

    expect(loopsContacts().filter((c) => c.email === loser.email)).toEqual([expect.objectContaining({ id: loopsId, userId: String(survivorId), subscribed: false })]);
    expect(await h.worker!.db.links.get(survivorId)).toMatchObject({ email: loser.email, loopsContactId: loopsId, loopsUserId: String(survivorId) });
    expect(await h.worker!.db.consent.get(loser.email)).toMatchObject({ state: "unsubscribed" });
    expect(await h.worker!.db.consent.history(loser.email)).toEqual(consentBefore);
    expect(await h.worker!.db.memberships.activeLists(loser.email)).toEqual(listsBefore);

    const loopsCount = loopsContacts().length;
    await h.kommo.moveLead(loser.lead.id, 6002);
    await leadJobDone(loser.lead.id, "kommo.leadStatusChanged");
    await queuesDrained(h);
    expect(subscribedTo(LISTS.nurture, loser.email)).toBe(false);
    expect(loopsContacts()).toHaveLength(loopsCount);
    expect(loopsContact(loser.email)).toMatchObject({ id: loopsId, userId: String(survivorId), subscribed: false });

    // Kommo's retries of the merge's webhooks, and another report of the survivor's change, change nothing.
    const before = await snapshot([loser.email], [survivorId, loser.contactId]);
    const mergeHooks = h.kommo.state.deliveries.filter((d) => d.event === "delete_contact" || d.body.includes(String(survivorId)));
    for (const delivery of mergeHooks) {
      await fetch(h.kommoHookUrl, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: delivery.body });
    }
    const updatedAt = h.kommo.contact(survivorId)!.updatedAt + 1;
    const repeat = { contactId: survivorId, action: "updated" as const, updatedAt, accountId: null, linkedLeadIds: [], fingerprint: "test-repeat" };
    await h.worker!.deps.enqueue([{ name: "kommo.contactChanged", data: repeat }]);
    await eventually(async () => (await h.worker!.db.outcomes.forJob(jobIdFor("kommo.contactChanged", repeat))).some((r) => r.step === "job"));
    await queuesDrained(h);
    expect(await snapshot([loser.email], [survivorId, loser.contactId])).toEqual(before);
  });

  it("keeps both people's Loops contacts and consent when both were synced, and the link follows the survivor", async () => {
    const loser = await optedOutDuplicate();
    const survivorEmail = uniqueEmail("rita.work");
    const survivorLead = await h.kommo.addLead({ id: uniqueId(), statusId: 6001, contact: { id: uniqueId(), name: "Rita Alves", email: survivorEmail } });
    const survivorId = survivorLead.contacts[0]!.id;
    await leadJobDone(survivorLead.id, "kommo.leadAdded");
    await eventually(() => loopsContact(survivorEmail)?.userId === String(survivorId));
    await queuesDrained(h);
    const loopsCount = loopsContacts().length;

    await h.kommo.mergeContacts(survivorId, loser.contactId);
    expect(h.kommo.fieldValues(h.kommo.contact(survivorId)!, h.kommo.seeded.fields.email)).toEqual([survivorEmail, loser.email]);
    await eventually(async () => (await h.worker!.db.links.get(loser.contactId)) === null);
    await queuesDrained(h);

    // Loops gives a userId to one contact: the survivor keeps its own, the duplicate's keeps its address and opt-out.
    expect(loopsContact(survivorEmail)).toMatchObject({ userId: String(survivorId) });
    expect(loopsContact(loser.email)).toMatchObject({ userId: String(loser.contactId), subscribed: false });
    expect(await h.worker!.db.links.get(survivorId)).toMatchObject({ email: survivorEmail });
    expect(await h.worker!.db.consent.get(loser.email)).toMatchObject({ state: "unsubscribed" });
    expect(await h.worker!.db.consent.get(survivorEmail)).toBeNull();

    await h.kommo.moveLead(loser.lead.id, 6002);
    await leadJobDone(loser.lead.id, "kommo.leadStatusChanged");
    await eventually(() => subscribedTo(LISTS.nurture, survivorEmail));
    await queuesDrained(h);
    expect(subscribedTo(LISTS.nurture, loser.email)).toBe(false);
    expect(loopsContacts()).toHaveLength(loopsCount);
  });

  it("gives the address's Loops contact back to the survivor when a duplicate with the same address took it over", async () => {
    const email = uniqueEmail("rui");
    const first = await h.kommo.addLead({ id: uniqueId(), statusId: 6001, contact: { id: uniqueId(), name: "Rui Costa", email } });
    const survivorId = first.contacts[0]!.id;
    await leadJobDone(first.id, "kommo.leadAdded");
    // A second form fill made a duplicate contact; its sync matched the Loops contact by address and keyed it by the duplicate.
    const second = await h.kommo.addLead({ id: uniqueId(), statusId: 6001, contact: { id: uniqueId(), name: "Rui Costa", email } });
    const loserId = second.contacts[0]!.id;
    await leadJobDone(second.id, "kommo.leadAdded");
    await eventually(() => loopsContact(email)?.userId === String(loserId));
    await queuesDrained(h);

    await h.kommo.mergeContacts(survivorId, loserId);
    await eventually(async () => (await h.worker!.db.links.get(loserId)) === null);
    await queuesDrained(h);

    expect(loopsContacts().filter((c) => c.email === email)).toEqual([expect.objectContaining({ userId: String(survivorId) })]);
    expect(await h.worker!.db.links.get(survivorId)).toMatchObject({ email, loopsUserId: String(survivorId) });
  });

  it("follows the merge from the duplicate's deletion alone (delete_contact webhook)", async () => {
    const loser = await optedOutDuplicate();
    const survivorLead = await h.kommo.addLead({ id: uniqueId(), statusId: 6001, contact: { id: uniqueId(), name: "Rita Alves", phone: "+5511990005678" } });
    const survivorId = survivorLead.contacts[0]!.id;
    await leadJobDone(survivorLead.id, "kommo.leadAdded", "skipped");
    // Only the deletion reaches us: no contact or lead update that could re-key by itself.
    h.kommo.state.webhooks[0]!.settings = ["delete_contact"];
    const recordedLeads = () => h.worker!.db.kommoRecords.contactLeads([loser.contactId, survivorId]);
    expect((await recordedLeads()).get(loser.contactId)).toEqual([loser.lead.id]);

    await h.kommo.mergeContacts(survivorId, loser.contactId);
    await eventually(async () => (await h.worker!.db.links.get(loser.contactId)) === null);
    await queuesDrained(h);

    // Engagement finds the duplicate's lead under the survivor, and nothing under the id Kommo dropped.
    expect((await recordedLeads()).has(loser.contactId)).toBe(false);
    expect([...(await recordedLeads()).get(survivorId)!].sort()).toEqual([loser.lead.id, survivorLead.id].sort());

    expect(loopsContact(loser.email)).toMatchObject({ userId: String(survivorId), subscribed: false });
    expect(await h.worker!.db.links.get(survivorId)).toMatchObject({ email: loser.email, loopsUserId: String(survivorId) });
    expect(await h.worker!.db.consent.get(loser.email)).toMatchObject({ state: "unsubscribed" });
  });

  it("follows the merge from the events feed when none of its webhooks comes", async () => {
    await h.stop();
    h = await startHarness({ env: { KOMMO_RECONCILE_SECONDS: "1" } });
    const loser = await optedOutDuplicate({ drain: false }); // the reconciler's next poll always waits in a queue
    const survivorLead = await h.kommo.addLead({ id: uniqueId(), statusId: 6001, contact: { id: uniqueId(), name: "Rita Alves", phone: "+5511990009999" } });
    const survivorId = survivorLead.contacts[0]!.id;
    await leadJobDone(survivorLead.id, "kommo.leadAdded", "skipped");
    h.kommo.state.webhooks[0]!.settings = [];

    await h.kommo.mergeContacts(survivorId, loser.contactId);
    await eventually(async () => (await h.worker!.db.links.get(loser.contactId)) === null, 30_000);
    await eventually(async () => (await h.worker!.db.outcomes.get(`kommo-contact-${loser.contactId}-deleted`, "job")) ?? undefined, 30_000);

    expect(loopsContact(loser.email)).toMatchObject({ userId: String(survivorId), subscribed: false });
    expect(await h.worker!.db.links.get(survivorId)).toMatchObject({ email: loser.email, loopsUserId: String(survivorId) });
    expect(await h.worker!.db.consent.get(loser.email)).toMatchObject({ state: "unsubscribed" });
  });

  it("records a deletion that was no merge as skipped and keeps the contact's link", async () => {
    const deleted = await optedOutDuplicate();
    h.kommo.state.webhooks[0]!.settings.push("delete_contact");
    await h.kommo.deleteContact(deleted.contactId);
    const job = await eventually(async () => (await h.worker!.db.outcomes.get(`kommo-contact-${deleted.contactId}-deleted`, "job")) ?? undefined);
    expect(job).toMatchObject({ status: "skipped", reason: "deleted, not merged: no contact holds its address" });
    expect(await h.worker!.db.links.get(deleted.contactId)).toMatchObject({ email: deleted.email });
  });
});
