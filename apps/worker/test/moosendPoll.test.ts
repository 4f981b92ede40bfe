import { MOOSEND_MAX_BATCH } from "@funnelsync/moosend-client";
import { eventually, LISTS, queuesDrained, startHarness, uniqueEmail, type Harness } from "../../../test/harness";

jest.setTimeout(90_000);

describe("moosend.poll", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.stop());

  const consentOf = (email: string) => h.worker!.db.consent.get(email);
  const poll = (requestedAt: number) => h.worker!.deps.enqueue([{ name: "moosend.poll", data: { listId: LISTS.newLead, requestedAt } }]);
  const settle = () => queuesDrained(h, 60_000);

  it("picks up, at the next poll, an unsubscribe that landed during a poll on a page already read", async () => {
    // Moosend lists members newest first by CreatedOn: the oldest member is on the last page, the newest on the first.
    const oldest = uniqueEmail("oldest");
    h.moosend.addSubscriber(LISTS.newLead, { email: oldest });
    // More than a page of opt-outs the ledger already has, so the listing has two pages.
    const known = Array.from({ length: MOOSEND_MAX_BATCH + 1 }, () => uniqueEmail("known"));
    for (const email of known) h.moosend.addSubscriber(LISTS.newLead, { email, status: "Unsubscribed" });
    for (let i = 0; i < known.length; i += 50) {
      await Promise.all(known.slice(i, i + 50).map((email) => h.worker!.db.consent.set({ email, state: "unsubscribed", source: "moosend" })));
    }
    const newest = uniqueEmail("newest");
    h.moosend.addSubscriber(LISTS.newLead, { email: newest });

    // While the first poll is between page 1 and page 2: the newest member leaves (onto page 1, already
    // read), then the oldest (onto page 2, still to come, and later than the other).
    let during = false;
    h.moosend.requests.onAnswered = (request) => {
      if (during || !request.path.endsWith(`${LISTS.newLead}/subscribers/Unsubscribed.json`) || request.query.Page !== "1") return;
      during = true;
      void h.moosend.unsubscribe(LISTS.newLead, newest);
      void h.moosend.unsubscribe(LISTS.newLead, oldest);
    };
    await poll(1);
    await eventually(async () => (await consentOf(oldest))?.state === "unsubscribed", 30_000);
    await settle();
    expect(during).toBe(true);
    expect(await consentOf(newest)).toBeNull();

    await poll(2);
    await eventually(async () => (await consentOf(newest))?.state === "unsubscribed", 30_000);
    expect(await consentOf(newest)).toMatchObject({ source: "moosend", reason: "unsubscribed" });
    await settle();
    // The opt-outs the ledger had cost no job: one listing call per page, one look-up per new opt-out.
    expect(h.moosend.requests.count((r) => r.path.includes("/find/"))).toBe(2);
  });
});
