import { eventually, LISTS, queuesDrained, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";

const OPT_IN = 880001;
const PEOPLE = 20;
// Re-activations go one by one through Moosend's single subscribe (10 per 10 s): two rounds of 20.
jest.setTimeout(180_000);

describe("Moosend: someone who opted back in is subscribed again", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.stop());

  const optInOf = (contactId: number) => h.kommo.fieldValues(h.kommo.contact(contactId)!, OPT_IN)[0];
  const statusesOn = (listId: string, emails: string[]) => emails.map((email) => h.moosend.subscribers(listId).find((s) => s.Email === email)?.Status);
  const settle = () => queuesDrained(h, 120_000);

  it("re-activates 20 people who unsubscribed at Moosend once their opt-in is back in one webhook, and their stage moves subscribe them too", async () => {
    const people: Array<{ email: string; contact: { id: number }; lead: { id: number } }> = [];
    for (let i = 0; i < PEOPLE; i++) {
      const email = uniqueEmail(`back-${i}`);
      const contact = await h.kommo.addContact({ id: uniqueId(), name: `Person ${i}`, email, company: "Acme", optIn: true });
      const lead = await h.kommo.addLead({ id: uniqueId(), name: `Deal ${i}`, contactId: contact.id, statusId: 6001 });
      people.push({ email, contact, lead });
    }
    const emails = people.map((p) => p.email);
    await eventually(() => statusesOn(LISTS.newLead, emails).every((s) => s === "Subscribed"), 60_000);
    await settle();

    for (const { email } of people) await h.moosend.unsubscribe(LISTS.newLead, email);
    await h.worker!.deps.enqueue([{ name: "moosend.poll", data: { listId: LISTS.newLead, requestedAt: Date.now() } }]);
    await eventually(() => people.every((p) => optInOf(p.contact.id) === false), 60_000);
    await settle();

    const sentBefore = h.moosend.requests.entries.length;
    await h.kommo.updateContacts(people.map((p) => ({ contactId: p.contact.id, optIn: true })));
    await eventually(async () => (await Promise.all(emails.map((email) => h.worker!.db.consent.get(email)))).every((c) => c?.state === "subscribed"), 60_000);
    await Promise.all(people.map((p) => h.kommo.moveLead(p.lead.id, 6002)));
    await settle();

    expect(statusesOn(LISTS.newLead, emails)).toEqual(emails.map(() => "Subscribed"));
    expect(statusesOn(LISTS.nurture, emails)).toEqual(emails.map(() => "Subscribed"));
    // Each re-activation was the single subscribe, confirmed by view.json; none rode in a bulk call.
    const since = h.moosend.requests.entries.slice(sentBefore);
    const inBulk = since
      .filter((r) => r.path.endsWith("subscribe_many.json"))
      .flatMap((r) => (r.body as { Subscribers: Array<{ Email: string }> }).Subscribers.map((s) => s.Email));
    expect(inBulk.filter((email) => emails.includes(email))).toEqual([]);
    expect(since.filter((r) => r.path.endsWith("/view.json")).length).toBeGreaterThanOrEqual(2 * PEOPLE);

    // Back to New lead, where Moosend has shown them subscribed since their opt-in: no re-activation.
    const sentBeforeReturn = h.moosend.requests.entries.length;
    await Promise.all(people.map((p) => h.kommo.moveLead(p.lead.id, 6001)));
    await settle();
    expect(h.moosend.requests.entries.slice(sentBeforeReturn).filter((r) => r.path.endsWith("/view.json"))).toEqual([]);
    expect(statusesOn(LISTS.newLead, emails)).toEqual(emails.map(() => "Subscribed"));
  });
});
