import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { eventually, REPO_ROOT, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";

const LAST_ENGAGEMENT = 880002;
const SCORE = 770003;
jest.setTimeout(60_000);

const ENGAGEMENT_BLOCK = `
engagement:
  notes: [opened, clicked]
  lastEngagementFieldId: ${LAST_ENGAGEMENT}
  score: { fieldId: ${SCORE}, opened: 1, clicked: 5 }
  taskOnClick: { text: "Follow up: clicked {subject}", dueHours: 24 }
  kommoCallsPerSecond: 3
  coalesceSeconds: 0.5
`;

describe("engagement back to sales: Loops opens and clicks on the Kommo card", () => {
  let h: Harness;
  beforeEach(async () => {
    const path = join(mkdtempSync(join(tmpdir(), "funnelsync-engagement-")), "funnelsync.yaml");
    writeFileSync(path, readFileSync(resolve(REPO_ROOT, "funnelsync.yaml"), "utf8") + ENGAGEMENT_BLOCK);
    h = await startHarness({ mappingPath: path });
  });
  afterEach(() => h.stop());

  /** A contact with an open lead, known to Loops through the forward sync. */
  async function person() {
    const email = uniqueEmail("nora");
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Nora Lind", email, company: "Lind AB" });
    const lead = await h.kommo.addLead({ id: uniqueId(), name: "Lind deal", contactId: contact.id, budget: 5000, statusId: 6001 });
    await eventually(() => h.loops.contact(email));
    return { email, contact, lead };
  }

  /** Every engagement of the address stored and written to Kommo. */
  async function applied(email: string, count: number) {
    await h.loops.idle();
    return eventually(async () => {
      const rows = await h.worker!.db.engagements.forEmails([email]);
      return rows.length === count && rows.every((r) => r.appliedAt !== null) && rows;
    });
  }

  const noteTexts = (entityType: "contacts" | "leads", id: number) => h.kommo.notesFor(entityType, id).map((n) => String(n.params.text));
  const fieldOf = (entity: { customFields: Array<{ fieldId: number; values: Array<{ value: unknown }> }> }, fieldId: number) =>
    h.kommo.fieldValues(entity as never, fieldId)[0];

  it("turns a click into one note on the contact and its lead, the last-engagement date and one follow-up task", async () => {
    const { email, contact, lead } = await person();
    const [click] = await h.loops.engage(email, "clicked", { subject: "Pricing for 2027", sourceType: "campaign", sourceId: "cm_pricing" });
    expect(click!.status).toBe(200);
    await applied(email, 1);

    expect(noteTexts("contacts", contact.id)).toEqual([expect.stringContaining('clicked a link in "Pricing for 2027"')]);
    expect(noteTexts("leads", lead.id)).toHaveLength(1);
    expect(fieldOf(h.kommo.contact(contact.id)!, LAST_ENGAGEMENT)).toBe((click!.payload as { eventTime: number }).eventTime);
    expect(h.kommo.tasksFor("leads", lead.id)).toEqual([
      expect.objectContaining({ text: "Follow up: clicked Pricing for 2027", responsibleUserId: h.kommo.lead(lead.id)!.responsibleUserId, isCompleted: false }),
    ]);
  });

  it("folds five opens of one e-mail into one note that says how often", async () => {
    const { email, contact, lead } = await person();
    for (let i = 0; i < 5; i++) await h.loops.engage(email, "opened", { emailId: "em_nurture_1", subject: "Welcome to Lind", sourceType: "loop", sourceId: "lp_1" });
    await applied(email, 5);

    expect(noteTexts("contacts", contact.id)).toEqual([expect.stringContaining("(5 times)")]);
    expect(noteTexts("leads", lead.id)).toEqual([expect.stringContaining("(5 times)")]);
    expect(h.kommo.tasksFor("leads", lead.id)).toEqual([]);
  });

  it("writes the score formula (3 opens × 1 + 1 click × 5 = 8) to the lead as a value", async () => {
    const { email, lead } = await person();
    for (let i = 0; i < 3; i++) await h.loops.engage(email, "opened", { emailId: `em_${i}` });
    await h.loops.engage(email, "clicked", { emailId: "em_0" });
    await applied(email, 4);

    expect(Number(fieldOf(h.kommo.lead(lead.id)!, SCORE))).toBe(3 * 1 + 1 * 5);
  });

  it("counts redelivered webhooks once: no second note, task or score point", async () => {
    const { email, contact, lead } = await person();
    const [open] = await h.loops.engage(email, "opened", { emailId: "em_once", subject: "Hello" });
    const [click] = await h.loops.engage(email, "clicked", { emailId: "em_once", subject: "Hello" });
    await applied(email, 2);
    const before = { contactNotes: noteTexts("contacts", contact.id), leadNotes: noteTexts("leads", lead.id), score: fieldOf(h.kommo.lead(lead.id)!, SCORE) };

    for (const delivery of [open!, click!, open!]) expect((await h.loops.redeliver(delivery.webhookId)).status).toBe(200);
    await applied(email, 2);
    // Give a flush the redeliveries might have started time to finish.
    await new Promise((r) => setTimeout(r, 1_500));
    await applied(email, 2);

    expect(noteTexts("contacts", contact.id)).toEqual(before.contactNotes);
    expect(noteTexts("leads", lead.id)).toEqual(before.leadNotes);
    expect(before.contactNotes).toHaveLength(2);
    expect(fieldOf(h.kommo.lead(lead.id)!, SCORE)).toBe(before.score);
    expect(Number(before.score)).toBe(6);
    expect(h.kommo.tasksFor("leads", lead.id)).toHaveLength(1);
  });
});
