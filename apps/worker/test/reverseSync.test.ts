import { eventually, LISTS, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";

const OPT_IN = 880001;
// Each case runs a few jobs through two directions; give a loaded CI machine room.
jest.setTimeout(60_000);

describe("ESP → Kommo: unsubscribes, bounces and complaints", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.stop());

  /** A contact with an open lead in New lead, already synced to both ESPs. */
  async function syncedPerson(email = uniqueEmail("marina")) {
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Marina Costa", email, company: "Costa Design", optIn: true });
    const lead = await h.kommo.addLead({ id: uniqueId(), name: "Costa deal", contactId: contact.id, budget: 8000, statusId: 6001 });
    await eventually(() => h.loops.contact(email) && h.moosend.subscribers(LISTS.newLead).some((s) => s.Email === email));
    // Every forward job done (the contact's own job may sync the lead again): a subscribe landing
    // after the unsubscribe below would re-subscribe the person at Moosend.
    await settle();
    return { contact, lead, email };
  }

  /** Waits for the opt-in to turn false; on a timeout, says what the worker did (seen in CI only). */
  async function optedOutInKommo(contactId: number) {
    await eventually(() => optInOf(contactId) === false).catch(async (error: Error) => {
      const rows = (await h.worker!.db.outcomes.since(new Date(Date.now() - 120_000))).filter((r) => r.vendor !== "none" || r.jobName.startsWith("moosend"));
      const calls = h.moosend.requests.filter().map((r) => `${r.method} ${r.path.replace(/\/v3\/subscribers\//, "")} ${r.status}`);
      const lines = h.logs.filter((line) => /moosend|esp|warn|error/i.test(line)).slice(-30);
      throw new Error(`${error.message}\nrows: ${JSON.stringify(rows.map((r) => [r.jobId, r.step, r.status, r.reason]))}\nmoosend: ${calls.join(" | ")}\nlogs:\n${lines.join("")}`);
    });
  }
  const contactNow = (id: number) => h.kommo.contact(id)!;
  const tagsOf = (id: number) => contactNow(id).tags.map((t) => t.name);
  const optInOf = (id: number) => h.kommo.fieldValues(contactNow(id), OPT_IN)[0];
  const espJobDone = (webhookId: string) =>
    eventually(async () => (await h.worker!.db.outcomes.forJob(`loops-${webhookId}`)).find((r) => r.step === "job" && r.status !== "running"));
  const settle = async () => {
    await new Promise((r) => setTimeout(r, 300));
    await eventually(async () => {
      const counts = await Promise.all(h.worker!.queues.map((q) => q.getJobCounts("waiting", "active", "delayed")));
      return counts.every((c) => (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) === 0);
    });
  };

  it("records a Loops unsubscribe in Kommo: note on contact and open lead, tag, opt-in false, consent", async () => {
    const { contact, lead, email } = await syncedPerson();
    const [delivery] = await h.loops.unsubscribe(email);
    expect(delivery!.status).toBe(200);
    await espJobDone(delivery!.webhookId);
    expect(h.kommo.notesFor("contacts", contact.id)).toHaveLength(1);
    expect(h.kommo.notesFor("leads", lead.id)).toHaveLength(1);
    expect(tagsOf(contact.id)).toContain("email-unsubscribed");
    expect(optInOf(contact.id)).toBe(false);
    expect(await h.worker!.db.consent.get(email)).toMatchObject({ state: "unsubscribed", source: "loops" });
  });

  it("turns a hard bounce into one note, one task and the bounce tag, although Loops also reports the unsubscribe", async () => {
    const { contact, email } = await syncedPerson();
    const deliveries = await h.loops.hardBounce(email);
    expect(deliveries.map((d) => d.eventName)).toEqual(["email.hardBounced", "contact.unsubscribed"]);
    await espJobDone(deliveries[1]!.webhookId);
    await settle();
    expect(h.kommo.notesFor("contacts", contact.id)).toHaveLength(1);
    expect(h.kommo.tasksFor("contacts", contact.id)).toEqual([expect.objectContaining({ text: expect.stringContaining(email) })]);
    expect(tagsOf(contact.id)).toContain("email-bounced");
    expect(tagsOf(contact.id)).not.toContain("email-unsubscribed");
    expect(optInOf(contact.id)).toBe(false);
    expect((await h.worker!.db.consent.get(email))?.state).toBe("bounced");
  });

  it("adds one note and one task when Kommo did the write but its answer was lost, and the step is retried", async () => {
    const { contact, lead, email } = await syncedPerson();
    const lost = (method: string, path: string) => method === "POST" && (path === "/api/v4/contacts/notes" || path === "/api/v4/tasks");
    h.kommo.faults.only(lost).loseAnswerNext(2);
    const deliveries = await h.loops.hardBounce(email);
    await espJobDone(deliveries[0]!.webhookId);
    await settle();
    expect(h.kommo.faults.pending).toBe(0);
    expect(h.kommo.notesFor("contacts", contact.id)).toHaveLength(1);
    expect(h.kommo.notesFor("leads", lead.id)).toHaveLength(1);
    expect(h.kommo.tasksFor("contacts", contact.id)).toHaveLength(1);
    // Each write went out once (both answers lost); the retries looked instead of writing again.
    expect(h.kommo.requests.count((r) => lost(r.method, r.path))).toBe(2);
    expect(h.kommo.requests.count((r) => r.method === "GET" && r.path === `/api/v4/contacts/${contact.id}/notes`)).toBeGreaterThanOrEqual(1);
    expect(h.kommo.requests.count((r) => r.method === "GET" && r.path === "/api/v4/tasks")).toBeGreaterThanOrEqual(1);
    expect(tagsOf(contact.id)).toContain("email-bounced");
    const job = (await h.worker!.db.outcomes.forJob(`loops-${deliveries[0]!.webhookId}`)).find((r) => r.step === "job");
    expect(job).toMatchObject({ status: "succeeded" });
  });

  it("turns a spam complaint into a note, the spam tag and consent 'complained'; a soft bounce into a note only", async () => {
    const spam = await syncedPerson();
    const soft = await syncedPerson();
    const [spamDelivery] = await h.loops.spamReport(spam.email);
    const [softDelivery] = await h.loops.softBounce(soft.email);
    await espJobDone(spamDelivery!.webhookId);
    await espJobDone(softDelivery!.webhookId);
    expect(tagsOf(spam.contact.id)).toContain("email-spam-complaint");
    expect((await h.worker!.db.consent.get(spam.email))?.state).toBe("complained");
    expect(h.kommo.notesFor("contacts", soft.contact.id)).toHaveLength(1);
    expect(tagsOf(soft.contact.id)).toEqual([]);
    expect(optInOf(soft.contact.id)).toBe(true);
    expect(await h.worker!.db.consent.get(soft.email)).toBeNull();
  });

  it("acts once on a redelivered Loops webhook (same webhook-id)", async () => {
    const { contact, email } = await syncedPerson();
    const [delivery] = await h.loops.unsubscribe(email);
    await espJobDone(delivery!.webhookId);
    const again = await h.loops.redeliver(delivery!.webhookId);
    expect(again.status).toBe(200);
    await settle();
    expect(h.kommo.notesFor("contacts", contact.id)).toHaveLength(1);
  });

  it("confirms a Moosend automation's unsubscribe through the API, then records it in Kommo", async () => {
    const { contact, email } = await syncedPerson();
    const delivery = await h.moosend.unsubscribe(LISTS.newLead, email, { viaAutomation: true });
    expect(delivery?.status).toBe(200);
    await optedOutInKommo(contact.id);
    await settle();
    expect(h.kommo.notesFor("contacts", contact.id)).toHaveLength(1);
    expect(h.moosend.requests.count((r) => r.path.includes("/find/"))).toBeGreaterThan(0);
    expect((await h.worker!.db.consent.get(email))?.source).toBe("moosend");
  });

  it("finds a Moosend unsubscribe by polling when no automation reported it", async () => {
    const { contact, email } = await syncedPerson();
    await h.moosend.unsubscribe(LISTS.newLead, email);
    await h.worker!.deps.enqueue([{ name: "moosend.poll", data: { requestedAt: Date.now() } }]);
    await optedOutInKommo(contact.id);
    await settle();
    expect(h.kommo.notesFor("contacts", contact.id)).toHaveLength(1);
    // A second poll finds nothing new: the consent ledger has this opt-out.
    await h.worker!.deps.enqueue([{ name: "moosend.poll", data: { requestedAt: Date.now() + 1 } }]);
    await settle();
    expect(h.kommo.notesFor("contacts", contact.id)).toHaveLength(1);
  });

  it("never re-subscribes an opted-out person on a stage change, until the opt-in is set back to true in Kommo", async () => {
    const { contact, lead, email } = await syncedPerson();
    const [delivery] = await h.loops.unsubscribe(email);
    await espJobDone(delivery!.webhookId);
    await settle();

    await h.kommo.moveLead(lead.id, 6002);
    await settle();
    expect(h.moosend.subscribers(LISTS.nurture).some((s) => s.Email === email)).toBe(false);
    const rows = await h.worker!.db.outcomes.forLead(lead.id);
    expect(rows.find((r) => r.jobName === "kommo.leadStatusChanged" && r.step === "moosend.subscribe")).toMatchObject({ status: "skipped", reason: expect.stringMatching(/^opted out: unsubscribed via loops/) });
    expect(h.loops.contact(email)?.subscribed).toBe(false);

    // Nor on a change of the contact: its lists are not subscribed again.
    await h.kommo.updateContact(contact.id, { company: "Renamed AB" });
    await settle();
    expect(h.moosend.subscribers(LISTS.newLead).find((s) => s.Email === email)?.Status).toBe("Unsubscribed");
    expect(h.moosend.requests.count((r) => r.path.endsWith("/subscribe.json") || r.path.endsWith("/subscribe_many.json"))).toBe(1);

    await h.kommo.updateContact(contact.id, { optIn: true });
    await eventually(async () => (await h.worker!.db.consent.get(email))?.state === "subscribed");
    await h.kommo.moveLead(lead.id, 142);
    await eventually(() => h.moosend.subscribers(LISTS.customers).some((s) => s.Email === email && s.Status === "Subscribed"));
    expect(h.loops.contact(email)?.subscribed).toBe(true);
  });

  it("stops marketing in the other ESP too: a Loops unsubscribe unsubscribes the Moosend lists, and the reverse", async () => {
    const fromLoops = await syncedPerson();
    const [delivery] = await h.loops.unsubscribe(fromLoops.email);
    await espJobDone(delivery!.webhookId);
    expect(h.moosend.subscribers(LISTS.newLead).find((s) => s.Email === fromLoops.email)?.Status).toBe("Unsubscribed");

    const fromMoosend = await syncedPerson();
    await h.moosend.unsubscribe(LISTS.newLead, fromMoosend.email, { viaAutomation: true });
    await eventually(() => h.loops.contact(fromMoosend.email)?.subscribed === false);
  });

  it("records a skip when no Kommo contact has the address", async () => {
    const stranger = uniqueEmail("stranger");
    h.loops.addContact({ email: stranger });
    const [delivery] = await h.loops.unsubscribe(stranger);
    const job = await espJobDone(delivery!.webhookId);
    expect(job).toMatchObject({ status: "skipped", reason: "no Kommo contact has this e-mail" });
  });
});
