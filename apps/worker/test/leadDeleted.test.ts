import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { eventually, LISTS, REPO_ROOT, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";

describe("kommo.leadDeleted (a lead deleted in Kommo, reported by the events feed)", () => {
  let h: Harness;
  beforeEach(async () => {
    const mapping = readFileSync(resolve(REPO_ROOT, "funnelsync.yaml"), "utf8").replace(
      `moosend: { listId: ${LISTS.newLead} }`,
      `moosend: { listId: ${LISTS.newLead}, removeOnExit: true }`,
    );
    const path = join(mkdtempSync(join(tmpdir(), "funnelsync-deleted-")), "funnelsync.yaml");
    writeFileSync(path, mapping);
    h = await startHarness({ mappingPath: path, env: { KOMMO_RECONCILE_SECONDS: "1" } });
  });
  afterEach(() => h.stop());

  const rows = (leadId: number) => h.worker!.db.outcomes.forLead(leadId);
  const deletedJob = (leadId: number) =>
    eventually(async () => (await rows(leadId)).find((r) => r.jobName === "kommo.leadDeleted" && r.step === "job"), 20_000);
  const status = (listId: string, email: string) => h.moosend.subscribers(listId).find((s) => s.Email === email)?.Status;

  async function syncedLead(contactId: number, email: string) {
    const lead = await h.kommo.addLead({ id: uniqueId(), contactId, statusId: 6001 });
    await eventually(async () => (await rows(lead.id)).find((r) => r.jobName === "kommo.leadAdded" && r.step === "job" && r.status === "succeeded"));
    expect(status(LISTS.newLead, email)).toBe("Subscribed");
    return lead;
  }

  it("sends nothing to the platforms, lets the person leave a removeOnExit list, and records the job as skipped", async () => {
    const email = uniqueEmail("gone");
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Gil Gone", email, company: "Acme" });
    const lead = await syncedLead(contact.id, email);
    // The contact's own add_contact job may subscribe them too: its calls are not the deletion's.
    await eventually(async () => (await h.worker!.db.outcomes.forJob(`kommo-contact-${contact.id}-added`)).find((r) => r.step === "job" && r.status !== "running"), 20_000);
    const loopsBefore = h.loops.requests.count();
    const subscribeCalls = () => h.moosend.requests.count((r) => r.path.endsWith("/subscribe.json") || r.path.endsWith("/subscribe_many.json") || r.path.includes("unsubscribe"));
    const subscribesBefore = subscribeCalls();
    await h.kommo.deleteLead(lead.id);

    expect(await deletedJob(lead.id)).toMatchObject({ status: "skipped", reason: "lead deleted in Kommo", email });
    expect(status(LISTS.newLead, email)).toBe("Removed");
    expect(h.loops.requests.count()).toBe(loopsBefore);
    expect(subscribesBefore).toBeGreaterThanOrEqual(1);
    expect(subscribeCalls()).toBe(subscribesBefore);
  });

  it("keeps the person on the list while another of their leads sits in its stage", async () => {
    const email = uniqueEmail("kept");
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Kim Kept", email, company: "Acme" });
    const lead = await syncedLead(contact.id, email);
    await h.kommo.addLead({ id: uniqueId(), contactId: contact.id, statusId: 6001 });
    await h.kommo.deleteLead(lead.id);

    expect(await deletedJob(lead.id)).toMatchObject({ status: "skipped", reason: "lead deleted in Kommo" });
    expect(status(LISTS.newLead, email)).toBe("Subscribed");
    expect(h.moosend.requests.count((r) => r.path.endsWith("/remove.json"))).toBe(0);
  });
});
