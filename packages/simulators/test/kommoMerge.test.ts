import express from "express";
import qs from "qs";
import { startKommoSimulator, type KommoSimulator } from "../src/kommo/startKommoSimulator";
import { startServer, type RunningServer } from "../src/shared/startServer";

const TOKEN = "sim-kommo-token";

describe("Kommo simulator: merging duplicate contacts", () => {
  let sim: KommoSimulator;
  let hook: RunningServer;
  const received: Array<Record<string, any>> = [];

  beforeEach(async () => {
    received.length = 0;
    sim = await startKommoSimulator({ seed: false, rateLimit: { max: 1_000, perMs: 1_000 } });
    const app = express();
    app.post("/hook", express.text({ type: () => true }), (req, res) => {
      received.push(qs.parse(req.body as string));
      res.sendStatus(200);
    });
    hook = await startServer(app);
    sim.addWebhook(`${hook.url}/hook`, ["update_lead", "update_contact", "delete_contact"]);
  });
  afterEach(async () => {
    await Promise.all([sim.close(), hook.close()]);
  });

  const get = (path: string) => fetch(`${sim.url}/api/v4${path}`, { headers: { Authorization: `Bearer ${TOKEN}` } });

  async function duplicates() {
    const survivor = await sim.addContact({ name: "Rita Alves", email: "rita@example.test", phone: "+5511990000001" });
    const loser = await sim.addContact({ name: "Rita A.", emails: ["RITA@example.test", { value: "rita.alves@work.example.test", enumCode: "WORK" }] });
    const survivorLead = await sim.addLead({ contactId: survivor.id });
    const loserLead = await sim.addLead({ contactId: loser.id });
    await sim.settled();
    received.length = 0;
    return { survivor, loser, survivorLead, loserLead };
  }

  it("moves the loser's leads to the survivor as main contact, adds its other addresses, and deletes it", async () => {
    const { survivor, loser, survivorLead, loserLead } = await duplicates();
    await sim.mergeContacts(survivor.id, loser.id);

    expect(sim.lead(loserLead.id)!.contacts).toEqual([{ id: survivor.id, isMain: true }]);
    expect(sim.lead(survivorLead.id)!.contacts).toEqual([{ id: survivor.id, isMain: true }]);
    // The same address in another case is one address; the survivor's own values come first.
    expect(sim.contact(survivor.id)!.customFields.find((f) => f.fieldId === sim.seeded.fields.email)!.values).toEqual([
      expect.objectContaining({ value: "rita@example.test", enumCode: "WORK" }),
      expect.objectContaining({ value: "rita.alves@work.example.test", enumCode: "WORK" }),
    ]);
    expect((await get(`/contacts/${loser.id}`)).status).toBe(204);
    const leads = ((await (await get(`/contacts/${survivor.id}?with=leads`)).json()) as any)._embedded.leads.map((l: { id: number }) => l.id);
    expect(leads.sort()).toEqual([survivorLead.id, loserLead.id].sort());
  });

  it("writes the link changes, the survivor's field change and the deletion to the events feed", async () => {
    const { survivor, loser, loserLead } = await duplicates();
    const before = sim.events.events.length;
    await sim.mergeContacts(survivor.id, loser.id);
    expect(sim.events.events.slice(before).map((e) => [e.type, e.entity_type, e.entity_id])).toEqual([
      ["entity_unlinked", "lead", loserLead.id],
      ["entity_linked", "lead", loserLead.id],
      [`custom_field_${sim.seeded.fields.email}_value_changed`, "contact", survivor.id],
      ["contact_deleted", "contact", loser.id],
    ]);
  });

  it("fires update_lead for each moved lead, update_contact for the survivor, then delete_contact for the loser", async () => {
    const { survivor, loser, loserLead } = await duplicates();
    await sim.mergeContacts(survivor.id, loser.id);
    await sim.settled();
    expect(received.map((body) => [Object.keys(body).find((k) => k !== "account"), Object.keys(Object.values(body)[0] as object)[0]])).toEqual([
      ["leads", "update"],
      ["contacts", "update"],
      ["contacts", "delete"],
    ]);
    expect(received[0]!.leads.update[0].id).toBe(String(loserLead.id));
    expect(received[1]!.contacts.update[0]).toMatchObject({ id: String(survivor.id), linked_leads_id: { [loserLead.id]: { ID: String(loserLead.id) } } });
    expect(received[2]!.contacts.delete[0]).toMatchObject({ id: String(loser.id) });
  });

  it("refuses to merge a contact into itself or a deleted one", async () => {
    const { survivor, loser } = await duplicates();
    await expect(sim.mergeContacts(survivor.id, survivor.id)).rejects.toThrow(/into itself/);
    await sim.mergeContacts(survivor.id, loser.id);
    await expect(sim.mergeContacts(survivor.id, loser.id)).rejects.toThrow(/no contact/);
  });
});
