import { startKommoSimulator, type KommoSimulator } from "@funnelsync/simulators";
import { ValidationError } from "@funnelsync/vendor-http";
import { KommoClient } from "../src/index";

describe("KommoClient.getCustomFields against the Kommo simulator", () => {
  let sim: KommoSimulator;
  let kommo: KommoClient;

  beforeEach(async () => {
    sim = await startKommoSimulator({ rateLimit: { max: 1_000, perMs: 1_000 } });
    kommo = new KommoClient({ baseUrl: sim.url, accessToken: "sim-kommo-token", http: { retryBaseDelayMs: 0 } });
  });
  afterEach(() => sim.close());

  it("lists the contacts' fields with their built-in codes, and the leads' fields separately", async () => {
    const contacts = await kommo.getCustomFields("contacts");
    expect(contacts).toEqual(
      expect.arrayContaining([
        { id: sim.seeded.fields.company, name: "Company", type: "text", code: null, entityType: "contacts" },
        { id: sim.seeded.fields.optIn, name: "Email opt-in", type: "checkbox", code: null, entityType: "contacts" },
        expect.objectContaining({ code: "EMAIL", type: "multitext" }),
      ]),
    );
    expect(contacts.map((f) => f.id)).not.toContain(sim.seeded.fields.budget);
    const leads = await kommo.getCustomFields("leads");
    expect(leads).toContainEqual({ id: sim.seeded.fields.budget, name: "Budget", type: "numeric", code: null, entityType: "leads" });
    expect(leads.map((f) => f.id).sort()).toEqual(sim.state.fields.filter((f) => f.entityType === "leads").map((f) => f.id).sort());
  });

  it("follows _links.next through pages of 50", async () => {
    sim.state.fields = sim.state.fields.filter((f) => f.entityType !== "leads");
    for (let i = 0; i < 60; i++) sim.state.fields.push({ id: 990000 + i, name: `Extra ${i}`, type: "text", code: null, entityType: "leads" });
    const fields = await kommo.getCustomFields("leads");
    expect(fields.map((f) => f.id)).toEqual(Array.from({ length: 60 }, (_, i) => 990000 + i));
    const requests = sim.requests.filter((r) => r.method === "GET" && r.path === "/api/v4/leads/custom_fields");
    expect(requests.map((r) => r.query)).toEqual([expect.objectContaining({ page: "1", limit: "50" }), expect.objectContaining({ page: "2", limit: "50" })]);
  });

  it("answers an empty list when Kommo answers 204 for an account without such fields", async () => {
    sim.state.fields = sim.state.fields.filter((f) => f.entityType !== "leads");
    expect(await kommo.getCustomFields("leads")).toEqual([]);
  });

  it("refuses an entity type other than leads or contacts before any request", async () => {
    await expect(kommo.getCustomFields("companies" as "leads")).rejects.toThrow(ValidationError);
    expect(sim.requests.filter((r) => r.path.endsWith("/custom_fields"))).toHaveLength(0);
  });
});
