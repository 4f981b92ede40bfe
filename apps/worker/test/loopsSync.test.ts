import { encodeKommoWebhook } from "@funnelsync/simulators";
import { editedMapping, eventually, LISTS, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";

describe("Kommo → Loops (and both ESPs at once)", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.stop());

  const jobDone = (leadId: number, jobName: string, status?: string) =>
    eventually(async () =>
      (await h.worker!.db.outcomes.forLead(leadId)).find((r) => r.step === "job" && r.jobName === jobName && (status ? r.status === status : r.status !== "running")),
    );
  const eventsFor = (email: string, eventName?: string) =>
    h.loops.state.events.filter((e) => e.email === email && (!eventName || e.eventName === eventName));
  const loopsContacts = (email: string) => [...h.loops.state.contacts.values()].filter((c) => c.email === email);

  async function newLead(email = uniqueEmail("lena")) {
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Lena Maria Vogel", email, company: "Vogel GmbH" });
    const lead = await h.kommo.addLead({ id: uniqueId(), name: "Vogel deal", contactId: contact.id, budget: 7000, statusId: 6001 });
    await jobDone(lead.id, "kommo.leadAdded", "succeeded"); // a retrying first attempt would take a later test's fault
    return { contact, lead, email };
  }

  it("upserts the Loops contact with the mapped properties and userId, and fires lead_created once", async () => {
    const { contact, email } = await newLead();
    expect(loopsContacts(email)).toEqual([
      expect.objectContaining({ firstName: "Lena", lastName: "Maria Vogel", userId: String(contact.id), source: "kommo", properties: expect.objectContaining({ company: "Vogel GmbH", budget: 7000 }) }),
    ]);
    expect(eventsFor(email, "lead_created")).toHaveLength(1);
    expect(eventsFor(email, "lead_created")[0]!.eventProperties).toMatchObject({ leadName: "Vogel deal", pipelineName: expect.any(String), stageName: "New lead", price: 7000 });
  });

  it("fires the stage's event when the lead moves to Nurture", async () => {
    const { lead, email } = await newLead();
    await h.kommo.moveLead(lead.id, 6002);
    await jobDone(lead.id, "kommo.leadStatusChanged");
    expect(eventsFor(email).map((e) => e.eventName)).toEqual(["lead_created", "nurture_started"]);
  });

  it("on a won deal fires deal_won and sends one welcome, despite a redelivery and a 500 before a retry", async () => {
    const { lead, email } = await newLead();
    h.loops.faults.only((method, path) => method === "POST" && path.endsWith("/transactional")).failNext(3, 500);
    await h.kommo.moveLead(lead.id, 142);
    const updatedAt = h.kommo.lead(lead.id)!.updatedAt;
    const redelivery = encodeKommoWebhook({ leads: { status: [{ id: lead.id, status_id: 142, old_status_id: 6001, pipeline_id: 5001, updated_at: updatedAt }] }, account: { id: 32720107 } });
    await fetch(h.kommoHookUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: redelivery });
    await eventually(() => h.loops.state.transactionals.some((t) => t.email === email));
    await jobDone(lead.id, "kommo.leadStatusChanged");
    await fetch(h.kommoHookUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: redelivery });
    await new Promise((r) => setTimeout(r, 500));
    expect(h.loops.requests.count((r) => r.path.endsWith("/transactional") && r.status === 500)).toBeGreaterThan(0);
    expect(h.loops.state.transactionals.filter((t) => t.email === email)).toEqual([
      expect.objectContaining({ transactionalId: "cm_welcome_01", dataVariables: expect.objectContaining({ firstName: "Lena", company: "Vogel GmbH", dealValue: 7000 }) }),
    ]);
    expect(eventsFor(email, "deal_won")).toHaveLength(1);
    expect(loopsContacts(email)[0]!.userGroup).toBe("customer");
  });

  it("does both ESPs for a stage mapped to both, and a Loops failure neither blocks nor redoes Moosend", async () => {
    const { lead, email } = await newLead();
    h.loops.faults.only((method, path) => method === "POST" && path.endsWith("/events/send")).failNext(1, 400);
    await h.kommo.moveLead(lead.id, 6002);
    const job = await jobDone(lead.id, "kommo.leadStatusChanged");
    expect(job.status).toBe("failed");
    expect(h.moosend.subscribers(LISTS.nurture).map((s) => s.Email)).toContain(email);
    const rows = (await h.worker!.db.outcomes.forLead(lead.id)).filter((r) => r.jobId === job.jobId);
    expect(rows.find((r) => r.step === "moosend.subscribe")).toMatchObject({ status: "succeeded", vendorStatus: 200 });
    expect(rows.find((r) => r.step === "loops.event.nurture_started")).toMatchObject({ status: "failed", vendorStatus: 400 });
  });

  it("keeps a Moosend opt-out of an address Loops never had as an unsubscribed Loops contact: a suppression entry", async () => {
    const email = uniqueEmail("only.moosend");
    h.moosend.addSubscriber(LISTS.newLead, { email });
    await h.moosend.unsubscribe(LISTS.newLead, email, { viaAutomation: true });
    await eventually(() => loopsContacts(email).length === 1);
    expect(loopsContacts(email)[0]).toMatchObject({ subscribed: false, userId: null });
  });

  it("moves the person on an e-mail change: one Loops contact with the new address, Moosend lists moved", async () => {
    const { contact, lead, email } = await newLead();
    await h.kommo.moveLead(lead.id, 6002);
    await jobDone(lead.id, "kommo.leadStatusChanged");
    const newEmail = uniqueEmail("lena.new");
    await h.kommo.updateContact(contact.id, { email: newEmail });
    await eventually(() => loopsContacts(newEmail).length === 1 && h.moosend.subscribers(LISTS.nurture).some((s) => s.Email === newEmail && s.Status === "Subscribed"));
    await eventually(() => !h.moosend.subscribers(LISTS.nurture).some((s) => s.Email === email && s.Status === "Subscribed"));
    expect(loopsContacts(email)).toHaveLength(0);
    expect(loopsContacts(newEmail)[0]!.userId).toBe(String(contact.id));
    expect(h.moosend.subscribers(LISTS.newLead).find((s) => s.Email === newEmail)).toMatchObject({ Status: "Subscribed", CustomFields: { Company: "Vogel GmbH", Budget: "7000" } });
  });
});

describe("Kommo → Loops with loops.userId: none (Loops contacts matched by e-mail only)", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ mappingPath: editedMapping((yaml) => yaml.replace("loops:\n  onLeadAdded", "loops:\n  userId: none\n  onLeadAdded")) });
  });
  afterEach(() => h.stop());

  const loopsContacts = (email: string) => [...h.loops.state.contacts.values()].filter((c) => c.email === email);
  const leadAddedDone = (leadId: number) =>
    eventually(async () => (await h.worker!.db.outcomes.forLead(leadId)).find((r) => r.step === "job" && r.jobName === "kommo.leadAdded" && r.status === "succeeded"));

  it("keeps the userId the team's own product gave the Loops contact, and sends no userId", async () => {
    const email = uniqueEmail("mara");
    const own = h.loops.addContact({ email, userId: "app-user-42" });
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Mara Lind", email, company: "Lind AB" });
    const lead = await h.kommo.addLead({ id: uniqueId(), contactId: contact.id, statusId: 6001 });
    await leadAddedDone(lead.id);
    expect(loopsContacts(email)).toEqual([expect.objectContaining({ id: own.id, userId: "app-user-42", firstName: "Mara", properties: expect.objectContaining({ company: "Lind AB" }) })]);
    expect(h.loops.state.events.filter((e) => e.email === email).map((e) => e.eventName)).toEqual(["lead_created"]);
    const sent = h.loops.requests.entries.filter((r) => r.path === "/api/v1/events/send" || r.path === "/api/v1/contacts/update");
    expect(sent.some((r) => JSON.stringify(r.body).includes("userId"))).toBe(false);
  });

  it("moves the contact found under the old address on an e-mail change, keeping its own userId", async () => {
    const email = uniqueEmail("mara");
    const own = h.loops.addContact({ email, userId: "app-user-43" });
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Mara Lind", email });
    const lead = await h.kommo.addLead({ id: uniqueId(), contactId: contact.id, statusId: 6001 });
    await leadAddedDone(lead.id);
    const newEmail = uniqueEmail("mara.new");
    await h.kommo.updateContact(contact.id, { email: newEmail });
    await eventually(() => loopsContacts(newEmail).length === 1);
    expect(loopsContacts(newEmail)[0]).toMatchObject({ id: own.id, userId: "app-user-43" });
    expect(loopsContacts(email)).toEqual([]);
  });

  it("re-creates a contact without a userId under the new address, keeping its opt-out, and deletes the old one", async () => {
    const email = uniqueEmail("mara");
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Mara Lind", email });
    const lead = await h.kommo.addLead({ id: uniqueId(), contactId: contact.id, statusId: 6001 });
    await leadAddedDone(lead.id);
    const old = loopsContacts(email)[0]!;
    expect(old.userId).toBeNull();
    old.subscribed = false;
    const newEmail = uniqueEmail("mara.new");
    await h.kommo.updateContact(contact.id, { email: newEmail });
    await eventually(() => loopsContacts(newEmail).length === 1 && loopsContacts(email).length === 0);
    expect(loopsContacts(newEmail)[0]).toMatchObject({ userId: null, subscribed: false, firstName: "Mara" });
    // Loops reports the deletion (contact.deleted, contact.unsubscribed): let those jobs finish before the harness stops.
    await h.loops.idle();
    for (const { webhookId } of h.loops.state.deliveries) {
      await eventually(async () => (await h.worker!.db.outcomes.forJob(`loops-${webhookId}`)).some((r) => r.step === "job" && r.status !== "running"));
    }
  });
});
