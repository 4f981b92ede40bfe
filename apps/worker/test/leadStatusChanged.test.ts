import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { encodeKommoWebhook } from "@funnelsync/simulators";
import { eventually, LISTS, REPO_ROOT, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";

describe("kommo.leadStatusChanged (Kommo stage change → Moosend, end to end)", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.stop());

  async function newLead(options: { email?: string | null; company?: string; budget?: number; statusId?: number; pipelineId?: number } = {}) {
    const email = options.email === null ? undefined : (options.email ?? uniqueEmail("ana"));
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Ana Souza", email, company: options.company ?? "Acme" });
    const lead = await h.kommo.addLead({ id: uniqueId(), name: "Website deal", contactId: contact.id, budget: options.budget ?? 5000, statusId: options.statusId ?? 6001, pipelineId: options.pipelineId });
    return { contact, lead, email };
  }
  const outcomeRows = async (leadId: number) => h.worker!.db.outcomes.forLead(leadId);
  const jobRow = (leadId: number, jobName: string) =>
    eventually(async () => (await outcomeRows(leadId)).find((r) => r.step === "job" && r.jobName === jobName && r.status !== "running"));

  it("puts the main contact in the stage's Moosend list with Company and Budget, and records a succeeded outcome", async () => {
    const { lead, email } = await newLead({ company: "Acme Ltda", budget: 12000 });
    await h.kommo.moveLead(lead.id, 6002);
    const job = await jobRow(lead.id, "kommo.leadStatusChanged");
    expect(job.status).toBe("succeeded");
    const member = h.moosend.subscribers(LISTS.nurture).find((s) => s.Email === email);
    expect(member).toMatchObject({ Status: "Subscribed", CustomFields: { Company: "Acme Ltda", Budget: "12000" } });
    const rows = await outcomeRows(lead.id);
    expect(rows.filter((r) => r.jobName === "kommo.leadStatusChanged" && r.step === "moosend.subscribe")).toEqual([
      expect.objectContaining({ status: "succeeded", vendor: "moosend", vendorStatus: 200, email, attempts: 1 }),
    ]);
  });

  it("accepts the real form-encoded webhook posted by hand and syncs the lead", async () => {
    const { lead, email } = await newLead();
    h.kommo.state.webhooks.length = 0; // the hand-made delivery below is the only one
    await h.kommo.moveLead(lead.id, 142);
    const body = encodeKommoWebhook({
      leads: { status: [{ id: lead.id, status_id: 142, old_status_id: 6001, pipeline_id: 5001, updated_at: h.kommo.lead(lead.id)!.updatedAt }] },
      account: { subdomain: "acme", id: 32720107, _links: { self: "https://acme.amocrm.com" } },
    });
    const res = await fetch(h.kommoHookUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    expect(res.status).toBe(200);
    await jobRow(lead.id, "kommo.leadStatusChanged");
    expect(h.moosend.subscribers(LISTS.customers).map((s) => s.Email)).toContain(email);
  });

  it("takes a change without updated_at (a Digital Pipeline hook, a hand-made call) at its word", async () => {
    const { lead, email } = await newLead({ company: "Acme", budget: 5000 });
    const body = encodeKommoWebhook({ leads: { status: [{ id: lead.id, status_id: 6002, old_status_id: 6001, pipeline_id: 5001 }] }, account: { id: 32720107, subdomain: "acme" } });
    const res = await fetch(h.kommoHookUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    expect(res.status).toBe(200);
    const job = await jobRow(lead.id, "kommo.leadStatusChanged");
    expect(job.status).toBe("succeeded");
    expect(h.moosend.subscribers(LISTS.nurture).find((s) => s.Email === email)).toMatchObject({ CustomFields: { Company: "Acme", Budget: "5000" } });
  });

  it("subscribes once when the same move is delivered as status, update and a retry", async () => {
    const { lead, email } = await newLead();
    await h.kommo.moveLead(lead.id, 6002); // Kommo sends status_lead and update_lead for it
    const updatedAt = h.kommo.lead(lead.id)!.updatedAt;
    const again = encodeKommoWebhook({ leads: { status: [{ id: lead.id, status_id: 6002, old_status_id: 6001, pipeline_id: 5001, updated_at: updatedAt }] }, account: { id: 32720107 } });
    await fetch(h.kommoHookUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: again });
    await jobRow(lead.id, "kommo.leadStatusChanged");
    await new Promise((r) => setTimeout(r, 300));
    const subscribes = h.moosend.requests.filter((r) => r.path === `/v3/subscribers/${LISTS.nurture}/subscribe.json` && (r.body as { Email?: string })?.Email === email);
    expect(subscribes).toHaveLength(1);
    const rows = await outcomeRows(lead.id);
    expect(rows.filter((r) => r.jobName === "kommo.leadStatusChanged" && r.step === "moosend.subscribe")).toHaveLength(1);
  });

  it("records a skip, and subscribes nobody, for a lead whose main contact has no e-mail", async () => {
    const { lead } = await newLead({ email: null });
    await h.kommo.moveLead(lead.id, 6002);
    const job = await jobRow(lead.id, "kommo.leadStatusChanged");
    expect(job).toMatchObject({ status: "skipped", reason: "main contact has no e-mail" });
    expect(h.moosend.requests.count((r) => r.path.endsWith("/subscribe.json"))).toBe(0);
  });

  it("records a skip for a stage the mapping does not name", async () => {
    const { lead } = await newLead({ pipelineId: 5002, statusId: 6101 });
    await h.kommo.moveLead(lead.id, 6102, 5002);
    const job = await jobRow(lead.id, "kommo.leadStatusChanged");
    expect(job).toMatchObject({ status: "skipped", reason: "stage 5002/6102 is not mapped" });
    expect(h.moosend.requests.count((r) => r.path.endsWith("/subscribe.json"))).toBe(0);
  });

  it("does not move a person back when a late redelivery names a stage the lead has left", async () => {
    const { lead, email } = await newLead();
    await h.kommo.moveLead(lead.id, 6002);
    const stale = h.kommo.lead(lead.id)!.updatedAt;
    await jobRow(lead.id, "kommo.leadStatusChanged");
    await h.kommo.moveLead(lead.id, 142);
    const late = encodeKommoWebhook({ leads: { status: [{ id: lead.id, status_id: 6001, pipeline_id: 5001, updated_at: stale - 5 }] }, account: { id: 32720107 } });
    await fetch(h.kommoHookUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: late });
    const skipped = await eventually(async () => (await outcomeRows(lead.id)).find((r) => r.status === "skipped" && r.reason?.startsWith("superseded")));
    expect(skipped.jobId).toContain("-6001-");
    const stepsOfLateJob = (await outcomeRows(lead.id)).filter((r) => r.jobId === skipped.jobId && r.step !== "job");
    expect(stepsOfLateJob).toEqual([]);
    expect(await eventually(() => h.moosend.subscribers(LISTS.customers).some((s) => s.Email === email))).toBe(true);
  });
});

describe("kommo.leadStatusChanged with a removeOnExit list (the stage's list follows the lead)", () => {
  let h: Harness;
  beforeEach(async () => {
    const mapping = readFileSync(resolve(REPO_ROOT, "funnelsync.yaml"), "utf8")
      .replace(`moosend: { listId: ${LISTS.newLead} }`, `moosend: { listId: ${LISTS.newLead}, removeOnExit: true }`)
      .replace(`moosend: { listId: ${LISTS.customers} }`, `moosend: { listId: ${LISTS.customers}, removeOnExit: true }`);
    const path = join(mkdtempSync(join(tmpdir(), "funnelsync-exit-")), "funnelsync.yaml");
    writeFileSync(path, mapping);
    h = await startHarness({ mappingPath: path });
  });
  afterEach(() => h.stop());

  const outcomeRows = async (leadId: number) => h.worker!.db.outcomes.forLead(leadId);
  const jobDone = (leadId: number, jobName: string) =>
    eventually(async () => (await outcomeRows(leadId)).find((r) => r.step === "job" && r.jobName === jobName && r.status === "succeeded"));
  const status = (listId: string, email: string) => h.moosend.subscribers(listId).find((s) => s.Email === email)?.Status;
  const removes = () => h.moosend.requests.count((r) => r.path === `/v3/subscribers/${LISTS.newLead}/remove.json`);

  it("takes the person off the list once the lead moves on: Moosend's remove, never an unsubscribe, consent untouched", async () => {
    const email = uniqueEmail("exit");
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Ana Souza", email, company: "Acme" });
    const lead = await h.kommo.addLead({ id: uniqueId(), name: "Deal", contactId: contact.id, statusId: 6001 });
    await jobDone(lead.id, "kommo.leadAdded");
    expect(status(LISTS.newLead, email)).toBe("Subscribed");

    await h.kommo.moveLead(lead.id, 6002);
    await jobDone(lead.id, "kommo.leadStatusChanged");
    expect(status(LISTS.nurture, email)).toBe("Subscribed");
    expect(status(LISTS.newLead, email)).toBe("Removed");
    expect(h.moosend.requests.count((r) => r.path.endsWith("/unsubscribe.json"))).toBe(0);
    const rows = await outcomeRows(lead.id);
    expect(rows.filter((r) => r.step === `moosend.remove.${LISTS.newLead}`)).toEqual([expect.objectContaining({ status: "succeeded", vendorStatus: 200, email })]);
    expect(await h.worker!.db.memberships.activeLists(email)).toEqual([LISTS.nurture]);
    expect(await h.worker!.db.consent.get(email)).toBeFalsy();

    // A list without removeOnExit keeps its people: Nurture stays when the deal is won.
    await h.kommo.moveLead(lead.id, 142);
    const statusJobsDone = async () => (await outcomeRows(lead.id)).filter((r) => r.step === "job" && r.jobName === "kommo.leadStatusChanged" && r.status === "succeeded");
    await eventually(async () => ((await statusJobsDone()).length === 2 ? true : undefined));
    expect(status(LISTS.customers, email)).toBe("Subscribed");
    expect(status(LISTS.nurture, email)).toBe("Subscribed");
    expect(removes()).toBe(1);
  });

  it("never takes the person off the list of the lead's current stage, even when 'added' is processed last", async () => {
    h.kommo.state.webhooks.length = 0; // the hand-made deliveries below are the only ones, in this order
    const email = uniqueEmail("late");
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Cy Dias", email, company: "Acme" });
    const lead = await h.kommo.addLead({ id: uniqueId(), name: "Deal", contactId: contact.id, statusId: 6001 });
    const addedAt = h.kommo.lead(lead.id)!.updatedAt;
    await h.kommo.moveLead(lead.id, 142);
    const post = (body: string) => fetch(h.kommoHookUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    const account = { id: 32720107 };
    const moved = { id: lead.id, status_id: 142, old_status_id: 6001, pipeline_id: 5001, updated_at: h.kommo.lead(lead.id)!.updatedAt };
    expect((await post(encodeKommoWebhook({ leads: { status: [moved] }, account }))).status).toBe(200);
    await jobDone(lead.id, "kommo.leadStatusChanged");
    expect(status(LISTS.customers, email)).toBe("Subscribed");

    const added = { id: lead.id, status_id: 6001, pipeline_id: 5001, updated_at: addedAt };
    expect((await post(encodeKommoWebhook({ leads: { add: [added] }, account }))).status).toBe(200);
    await eventually(async () => (await outcomeRows(lead.id)).find((r) => r.step === "job" && r.jobName === "kommo.leadAdded" && r.status !== "running"));
    expect(status(LISTS.customers, email)).toBe("Subscribed");
    expect(h.moosend.requests.count((r) => r.path === `/v3/subscribers/${LISTS.customers}/remove.json`)).toBe(0);
  });

  it("keeps the person on the list while another lead of theirs is still in that stage", async () => {
    const email = uniqueEmail("twoleads");
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Bo Lima", email, company: "Acme" });
    const first = await h.kommo.addLead({ id: uniqueId(), name: "Deal 1", contactId: contact.id, statusId: 6001 });
    const second = await h.kommo.addLead({ id: uniqueId(), name: "Deal 2", contactId: contact.id, statusId: 6001 });
    await jobDone(first.id, "kommo.leadAdded");
    await jobDone(second.id, "kommo.leadAdded");

    await h.kommo.moveLead(first.id, 6002);
    await jobDone(first.id, "kommo.leadStatusChanged");
    expect(status(LISTS.nurture, email)).toBe("Subscribed");
    expect(status(LISTS.newLead, email)).toBe("Subscribed");
    expect(removes()).toBe(0);

    await h.kommo.moveLead(second.id, 6002);
    await jobDone(second.id, "kommo.leadStatusChanged");
    expect(status(LISTS.newLead, email)).toBe("Removed");
  });
});
