import { eventually, LISTS, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";

jest.setTimeout(60_000);

describe("a Kommo contact with several addresses (kommo.emailPreference, default WORK, PRIV, OTHER)", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.stop());

  const loopsContacts = (email: string) => [...h.loops.state.contacts.values()].filter((c) => c.email === email);
  const subscribedTo = (listId: string, email: string) => h.moosend.subscribers(listId).some((s) => s.Email === email && s.Status === "Subscribed");
  const leadJobDone = (leadId: number, jobName: string) =>
    eventually(async () => (await h.worker!.db.outcomes.forLead(leadId)).find((r) => r.step === "job" && r.jobName === jobName && r.status === "succeeded"));

  /** A contact whose PRIV address comes before its WORK address, with a lead in New lead. */
  async function twoAddresses() {
    const priv = uniqueEmail("ines.home");
    const work = uniqueEmail("ines.work");
    const contact = await h.kommo.addContact({
      id: uniqueId(),
      name: "Ines Duarte",
      emails: [{ value: priv, enumCode: "PRIV" }, { value: work, enumCode: "WORK" }],
    });
    const lead = await h.kommo.addLead({ id: uniqueId(), contactId: contact.id, statusId: 6001 });
    await leadJobDone(lead.id, "kommo.leadAdded");
    return { contact, lead, priv, work };
  }

  it("syncs the WORK address although the PRIV one comes first", async () => {
    const { contact, priv, work } = await twoAddresses();
    expect(loopsContacts(work)).toEqual([expect.objectContaining({ userId: String(contact.id) })]);
    expect(loopsContacts(priv)).toEqual([]);
    expect(subscribedTo(LISTS.newLead, work)).toBe(true);
    expect(h.moosend.subscribers(LISTS.newLead).some((s) => s.Email === priv)).toBe(false);
  });

  it("keeps consent per address: an opt-out of the PRIV address does not stop the WORK one", async () => {
    const priv = uniqueEmail("ines.home");
    const work = uniqueEmail("ines.work");
    const db = h.worker!.db;
    await db.consent.set({ email: priv, state: "unsubscribed", source: "moosend", reason: "unsubscribed" });
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Ines Duarte", emails: [{ value: priv, enumCode: "PRIV" }, { value: work, enumCode: "WORK" }] });
    const lead = await h.kommo.addLead({ id: uniqueId(), contactId: contact.id, statusId: 6001 });
    await leadJobDone(lead.id, "kommo.leadAdded");
    expect(subscribedTo(LISTS.newLead, work)).toBe(true);
    expect((await db.consent.get(priv))?.state).toBe("unsubscribed");
    expect(await db.consent.get(work)).toBeNull();
  });

  it("moves the person when the WORK address is re-typed OTHER: PRIV becomes the synced address, as an e-mail change", async () => {
    const { contact, lead, priv, work } = await twoAddresses();
    const loopsId = loopsContacts(work)[0]!.id;
    await h.kommo.updateContact(contact.id, { emails: [{ value: priv, enumCode: "PRIV" }, { value: work, enumCode: "OTHER" }] });
    await eventually(() => loopsContacts(priv).length === 1 && subscribedTo(LISTS.newLead, priv));
    await eventually(() => !subscribedTo(LISTS.newLead, work));
    expect(loopsContacts(priv)[0]).toMatchObject({ id: loopsId, userId: String(contact.id) });
    expect(loopsContacts(work)).toEqual([]);
    expect(await h.worker!.db.links.get(contact.id)).toMatchObject({ email: priv });

    // A WORK address added later wins again: the person moves back.
    const newWork = uniqueEmail("ines.newjob");
    await h.kommo.updateContact(contact.id, { emails: [{ value: priv, enumCode: "PRIV" }, { value: newWork, enumCode: "WORK" }] });
    await eventually(() => loopsContacts(newWork).length === 1 && subscribedTo(LISTS.newLead, newWork));
    expect(loopsContacts(newWork)[0]!.id).toBe(loopsId);
    await h.kommo.moveLead(lead.id, 6002);
    await eventually(() => subscribedTo(LISTS.nurture, newWork));
    expect(subscribedTo(LISTS.nurture, priv)).toBe(false);
  });
});
