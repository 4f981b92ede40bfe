import { eventually, LISTS, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";

const OPT_IN = 880001;
jest.setTimeout(60_000);

describe("Loops → consent: the person re-subscribes themselves", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.stop());

  const optInOf = (id: number) => h.kommo.fieldValues(h.kommo.contact(id)!, OPT_IN)[0];
  const jobDone = (webhookId: string) =>
    eventually(async () => (await h.worker!.db.outcomes.forJob(`loops-${webhookId}`)).find((r) => r.step === "job" && r.status !== "running"));
  const leadJobDone = (leadId: number, jobName: string) =>
    eventually(async () => (await h.worker!.db.outcomes.forLead(leadId)).find((r) => r.step === "job" && r.jobName === jobName && r.status !== "running"));
  const subscribedTo = (listId: string, email: string) => h.moosend.subscribers(listId).some((s) => s.Email === email && s.Status === "Subscribed");

  /** A person synced to both ESPs who then unsubscribed in Loops. */
  async function optedOutPerson() {
    const email = uniqueEmail("rosa");
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Rosa Kim", email, company: "Kim Labs", optIn: true });
    const lead = await h.kommo.addLead({ id: uniqueId(), contactId: contact.id, statusId: 6001 });
    await leadJobDone(lead.id, "kommo.leadAdded");
    const [unsubscribed] = await h.loops.unsubscribe(email);
    await jobDone(unsubscribed!.webhookId);
    await eventually(() => optInOf(contact.id) === false);
    return { email, contact, lead };
  }

  it("email.resubscribed puts the ledger back to subscribed (source, time, event), sets the opt-in true and notes why", async () => {
    const { email, contact } = await optedOutPerson();
    const [resubscribed] = await h.loops.resubscribe(email);
    expect(resubscribed!.status).toBe(200);
    await jobDone(resubscribed!.webhookId);
    const eventTime = (resubscribed!.payload as { eventTime: number }).eventTime;
    expect(await h.worker!.db.consent.get(email)).toEqual(
      expect.objectContaining({ state: "subscribed", source: "loops", eventRef: `loops-${resubscribed!.webhookId}`, changedAt: new Date(eventTime * 1000) }),
    );
    expect((await h.worker!.db.consent.history(email)).map((e) => e.state)).toEqual(["unsubscribed", "subscribed"]);
    await eventually(() => optInOf(contact.id) === true);
    expect(h.kommo.notesFor("contacts", contact.id).map((n) => n.params.text)).toContainEqual(expect.stringContaining("re-subscribed to e-mail themselves in Loops"));
  });

  it("a stage change alone never re-subscribes; after the person's own re-subscribe it does", async () => {
    const { email, lead } = await optedOutPerson();
    await h.kommo.moveLead(lead.id, 6002);
    await leadJobDone(lead.id, "kommo.leadStatusChanged");
    expect(subscribedTo(LISTS.nurture, email)).toBe(false);
    expect((await h.worker!.db.consent.get(email))?.state).toBe("unsubscribed");

    const [resubscribed] = await h.loops.resubscribe(email);
    await jobDone(resubscribed!.webhookId);
    await h.kommo.moveLead(lead.id, 142);
    await eventually(() => subscribedTo(LISTS.customers, email));
  });

  it("joining a Loops mailing list is recorded and lifts no opt-out", async () => {
    const { email, contact } = await optedOutPerson();
    const [joined] = await h.loops.subscribeToList(email, h.loops.state.lists[0]!.id);
    const row = await jobDone(joined!.webhookId);
    expect(row).toMatchObject({ status: "skipped", reason: expect.stringContaining("lifts no opt-out") });
    expect((await h.worker!.db.consent.get(email))?.state).toBe("unsubscribed");
    expect(optInOf(contact.id)).toBe(false);
  });
});
