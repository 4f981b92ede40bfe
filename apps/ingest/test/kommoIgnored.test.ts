import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startKommoSimulator, type KommoSimulator } from "@funnelsync/simulators";
import { eventually, queuesDrained, startHarness, uniqueId, type Harness } from "../../../test/harness";

describe("Kommo deliveries we do not act on (end to end, Kommo simulator → ingest → worker)", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.stop());

  it("acknowledges 150 company, task, note and lead-deletion deliveries: the hook stays enabled and each deletion is recorded", async () => {
    const hook = h.kommo.state.webhooks[0]!;
    hook.settings.push("add_company", "add_task", "note_lead", "delete_lead");
    const leads = await Promise.all(Array.from({ length: 38 }, () => h.kommo.addLead({ id: uniqueId() })));
    const live = await h.kommo.addLead({ id: uniqueId() });
    const sentBefore = h.kommo.state.deliveries.length;
    for (let i = 0; i < 38; i++) {
      const lead = leads[i]!;
      await h.kommo.addCompany(`Company ${i}`);
      await h.kommo.addTask(lead.id, "Call back");
      await h.kommo.addNote(lead.id, "Spoke on the phone");
      await h.kommo.deleteLead(lead.id);
    }
    // A note written over the API (as the worker's reverse sync does) fires `note_lead` too. Written
    // once the worker is idle, so its own Kommo reads do not take this call's slot of Kommo's 7 a second.
    await queuesDrained(h);
    const apiNote = await fetch(`${h.kommo.url}/api/v4/leads/${live.id}/notes`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.config.kommo.accessToken}`, "content-type": "application/json" },
      body: JSON.stringify([{ note_type: "common", params: { text: "Opted out in Moosend" } }]),
    });
    expect(apiNote.status).toBe(200);
    await h.kommo.settled();
    const deliveries = h.kommo.state.deliveries.slice(sentBefore);
    expect(deliveries).toHaveLength(153);
    expect(new Set(deliveries.map((d) => d.event))).toEqual(new Set(["add_company", "add_task", "note_lead", "delete_lead"]));
    expect(deliveries.filter((d) => !d.ok).map((d) => [d.event, d.status])).toEqual([]);
    expect(hook.disabled).toBe(false);

    // The deletion is acknowledged and recorded, so `history --lead` shows it.
    const deleted = leads[0]!.id;
    const row = await eventually(async () => (await h.worker!.db.outcomes.forLead(deleted)).find((r) => r.jobName === "kommo.leadDeleted"));
    expect(row).toMatchObject({ step: "job", status: "skipped", reason: "lead deleted in Kommo", leadId: deleted });
    expect((await h.worker!.db.events.forLead(deleted)).map((e) => e.kind)).toContain("kommo.leadDeleted");
  }, 60_000);
});

describe("Kommo simulator: the webhook disable rule", () => {
  let sim: KommoSimulator;
  let receiver: Server;
  let answered = 0;
  beforeEach(async () => {
    sim = await startKommoSimulator({ seed: false });
    receiver = createServer((req, res) => {
      answered++;
      req.resume();
      res.writeHead(400).end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  });
  afterEach(async () => {
    await sim.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it("disables a hook after more than 100 invalid answers within 2 h and stops sending to it", async () => {
    const hook = sim.addWebhook(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, ["add_company"]);
    for (let i = 0; i < 100; i++) await sim.addCompany(`Company ${i}`);
    expect(hook.disabled).toBe(false);
    await sim.addCompany("the 101st");
    expect(hook.disabled).toBe(true);
    await sim.addCompany("never sent");
    expect(answered).toBe(101);
  }, 30_000);
});
