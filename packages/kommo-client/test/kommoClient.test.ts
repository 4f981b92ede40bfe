import { startKommoSimulator, type KommoSimulator, type KommoSimulatorOptions } from "@funnelsync/simulators";
import { ValidationError, VendorBlockedError, VendorError, VendorRateLimitError, isVendorError } from "@funnelsync/vendor-http";
import { KOMMO_LIMITS, KommoClient, fieldValue, preferredEmail } from "../src/index";

describe("KommoClient against the Kommo simulator", () => {
  let sim: KommoSimulator;
  let kommo: KommoClient;

  async function start(options: KommoSimulatorOptions = {}, token = "sim-kommo-token"): Promise<void> {
    sim = await startKommoSimulator({ rateLimit: { max: 1_000, perMs: 1_000 }, ...options });
    kommo = new KommoClient({ baseUrl: sim.url, accessToken: token, http: { retryBaseDelayMs: 0, timeoutMs: 2_000 } });
  }

  const apiRequests = (method: string, path: string) => sim.requests.filter((r) => r.method === method && r.path === `/api/v4${path}`);

  afterEach(() => sim.close());

  describe("reads", () => {
    beforeEach(() => start());

    it("fetches many leads in ONE request with their contacts, leaving unknown ids out", async () => {
      const { leads, contacts } = sim.seeded;
      const ids = [leads.anaWebsite, leads.brunoReferral, leads.joanaTrial, 39999999, leads.anaWebsite];
      const found = await kommo.getLeads(ids);

      expect(apiRequests("GET", "/leads")).toHaveLength(1);
      const [request] = apiRequests("GET", "/leads");
      expect(request!.query).toMatchObject({ with: "contacts", limit: "250", filter: { id: ids.slice(0, 4).map(String) } });
      expect([...found.keys()].sort()).toEqual([leads.anaWebsite, leads.brunoReferral, leads.joanaTrial]);
      expect(found.get(leads.brunoReferral)).toMatchObject({
        pipelineId: 5001,
        statusId: 6002,
        price: 12000,
        mainContactId: contacts.bruno,
        contactIds: [contacts.bruno, contacts.diego],
        tags: ["vip"],
      });
      expect(fieldValue(found.get(leads.brunoReferral)!, sim.seeded.fields.budget)).toBe("12000");
    });

    it("splits more than 250 ids into requests of 250", async () => {
      const ids = Array.from({ length: 300 }, (_, i) => 31000000 + i);
      const found = await kommo.getLeads(ids);
      expect(found.size).toBe(0);
      expect(apiRequests("GET", "/leads").map((r) => ((r.query.filter as { id: string[] }).id).length)).toEqual([250, 50]);
    });

    it("leaves out a lead or contact Kommo does not know, and gives an empty map without a request for no ids", async () => {
      expect((await kommo.getLeads([39999999])).size).toBe(0);
      expect((await kommo.getContacts([29999999])).size).toBe(0);
      const before = sim.requests.count();
      expect((await kommo.getLeads([])).size).toBe(0);
      expect(sim.requests.count()).toBe(before);
    });

    it("reads a contact's e-mails (all of them, trimmed), fields and lead links", async () => {
      const { contacts, leads, fields } = sim.seeded;
      const found = await kommo.getContacts([contacts.bruno, contacts.diego]);
      expect(found.get(contacts.bruno)).toMatchObject({
        name: "Bruno Lima",
        firstName: "Bruno",
        lastName: "Lima",
        emails: ["bruno@example.test", "bruno.lima@work.example.test"],
        leadIds: [leads.brunoReferral],
      });
      expect(found.get(contacts.diego)!.emails).toEqual(["Diego.Ramos@Example.test"]);
      expect(fieldValue(found.get(contacts.diego)!, fields.optIn)).toBe(false);
      expect((await kommo.getContacts([contacts.carla])).get(contacts.carla)!.emails).toEqual([]);
    });

    it("keeps each e-mail's type and picks the address by the preferred codes, else the first value", async () => {
      const contact = await sim.addContact({
        name: "Pia Berg",
        emails: [{ value: "pia@home.example.test", enumCode: "PRIV" }, { value: " Pia.Berg@Work.example.test", enumCode: "WORK" }, { value: "pia@other.example.test", enumCode: "OTHER" }],
      });
      const read = (await kommo.getContacts([contact.id])).get(contact.id)!;
      expect(read.emailValues).toEqual([
        { value: "pia@home.example.test", enumCode: "PRIV" },
        { value: "Pia.Berg@Work.example.test", enumCode: "WORK" },
        { value: "pia@other.example.test", enumCode: "OTHER" },
      ]);
      expect(preferredEmail(read, ["WORK", "PRIV", "OTHER"])).toBe("pia.berg@work.example.test");
      expect(preferredEmail(read, ["OTHER", "WORK"])).toBe("pia@other.example.test");
      expect(preferredEmail(read, ["MOB"])).toBe("pia@home.example.test");
      expect(preferredEmail({ emailValues: [] }, ["WORK"])).toBeUndefined();
    });

    it("keeps only exact e-mail matches from Kommo's fuzzy search", async () => {
      const { contacts } = sim.seeded;
      const ana = await kommo.findContactsByEmail("  ANA@example.test ");
      expect(ana.map((c) => c.id)).toEqual([contacts.ana]);
      const [search] = apiRequests("GET", "/contacts");
      expect(search!.query.query).toBe("ana@example.test");
      expect((await kommo.findContactsByEmail("bruno.lima@work.example.test")).map((c) => c.id)).toEqual([contacts.bruno]);
      expect((await kommo.findContactsByEmail("diego.ramos@example.test")).map((c) => c.id)).toEqual([contacts.diego]);
      expect(await kommo.findContactsByEmail("nobody@example.test")).toEqual([]);
    });

    it("returns every contact sharing an address", async () => {
      const twin = await sim.addContact({ name: "Ana Twin", email: "Ana@Example.test" });
      const found = await kommo.findContactsByEmail("ana@example.test");
      expect(found.map((c) => c.id).sort()).toEqual([sim.seeded.contacts.ana, twin.id]);
    });

    it("lists pipelines with their statuses", async () => {
      const pipelines = await kommo.getPipelines();
      expect(pipelines.map((p) => p.id)).toEqual([5001, 5002]);
      expect(pipelines[0]!.statuses).toEqual([
        { id: 6001, name: "New lead" },
        { id: 6002, name: "Nurture" },
        { id: 142, name: "Closed - won" },
        { id: 143, name: "Closed - lost" },
      ]);
    });

    it("pages through a stage's leads for a backfill", async () => {
      const first = await kommo.listLeads({ pipelineId: 5001, statusId: 6001, page: 1, limit: 1 });
      const second = await kommo.listLeads({ pipelineId: 5001, statusId: 6001, page: 2, limit: 1 });
      const third = await kommo.listLeads({ pipelineId: 5001, statusId: 6001, page: 3, limit: 1 });
      expect([first, second, third].map((p) => [p.leads.map((l) => l.id), p.hasMore])).toEqual([
        [[sim.seeded.leads.anaWebsite], true],
        [[sim.seeded.leads.carlaInbound], false],
        [[], false],
      ]);
      const whole = await kommo.listLeads({ pipelineId: 5002, page: 1, limit: 250 });
      expect(whole.leads.map((l) => l.id)).toEqual([sim.seeded.leads.anaPartner]);
    });

    it("rejects bad arguments with a ValidationError that no retry can fix, before any request", async () => {
      await expect(kommo.getLeads([0])).rejects.toThrow(ValidationError);
      await expect(kommo.getLeads([1.5])).rejects.toThrow(ValidationError);
      await expect(kommo.findContactsByEmail("not-an-address")).rejects.toMatchObject({
        name: "ValidationError",
        vendor: "kommo",
        retryable: false,
        message: 'kommo: not an e-mail address: "not-an-address"',
      });
      await expect(kommo.updateContact(sim.seeded.contacts.ana, {})).rejects.toThrow(ValidationError);
      await expect(kommo.listLeads({ pipelineId: 5001, page: 1, limit: 251 })).rejects.toThrow(ValidationError);
      await expect(kommo.addNotes("leads", Array.from({ length: 251 }, () => ({ entityId: 1, text: "x" })))).rejects.toThrow(ValidationError);
      await expect(kommo.addTasks([{ text: " ", entityType: "leads", entityId: 1, completeTill: 1 }])).rejects.toThrow(ValidationError);
      await expect(kommo.updateNotes("leads", [{ id: 1, text: "" }])).rejects.toThrow(ValidationError);
      await expect(kommo.updateFieldValues("leads", Array.from({ length: 251 }, (_, i) => ({ id: i + 1, customFields: [] })))).rejects.toThrow(ValidationError);
      await expect(kommo.saveWebhook("ftp://example.test/hook", ["add_lead"])).rejects.toThrow(ValidationError);
      expect(sim.requests.count()).toBe(0);
    });
  });

  describe("writes", () => {
    beforeEach(() => start());

    it("adds tags without dropping the contact's existing ones and sets a checkbox with a boolean", async () => {
      const { contacts, fields } = sim.seeded;
      const result = await kommo.updateContact(contacts.ana, {
        customFields: [{ fieldId: fields.optIn, value: false }],
        tagsToAdd: ["email-unsubscribed"],
      });
      expect(result).toEqual({ id: contacts.ana, updatedAt: sim.contact(contacts.ana)!.updatedAt });
      const [patch] = apiRequests("PATCH", `/contacts/${contacts.ana}`);
      expect(patch!.body).toEqual({ custom_fields_values: [{ field_id: fields.optIn, values: [{ value: false }] }], tags_to_add: [{ name: "email-unsubscribed" }] });
      expect(sim.contact(contacts.ana)!.tags.map((t) => t.name)).toEqual(["newsletter", "email-unsubscribed"]);
      expect(sim.fieldValues(sim.contact(contacts.ana)!, fields.optIn)).toEqual([false]);
    });

    it("retries a PATCH after a 502, since it is repeatable", async () => {
      sim.faults.failNext(1, 502);
      await kommo.updateContact(sim.seeded.contacts.ana, { tagsToAdd: ["x"] });
      expect(apiRequests("PATCH", `/contacts/${sim.seeded.contacts.ana}`).map((r) => r.status)).toEqual([502, 200]);
    });

    it("adds notes and returns their ids in order", async () => {
      const { leads } = sim.seeded;
      const ids = await kommo.addNotes("leads", [
        { entityId: leads.anaWebsite, text: "Subscribed to list New leads" },
        { entityId: leads.carlaInbound, text: "Skipped: no e-mail" },
      ]);
      expect(ids).toEqual([sim.notesFor("leads", leads.anaWebsite)[0]!.id, sim.notesFor("leads", leads.carlaInbound)[0]!.id]);
      expect(sim.notesFor("leads", leads.anaWebsite)[0]).toMatchObject({ noteType: "common", params: { text: "Subscribed to list New leads" } });
    });

    it("never retries a notes POST on a 500 (a repeat would duplicate it), while a GET is retried", async () => {
      const lead = sim.seeded.leads.anaWebsite;
      sim.faults.failNext(1, 500);
      const error = await kommo.addNotes("leads", [{ entityId: lead, text: "x" }]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VendorError);
      expect(error).toMatchObject({ status: 500, retryable: true });
      expect(apiRequests("POST", "/leads/notes")).toHaveLength(1);
      expect(sim.notesFor("leads", lead)).toHaveLength(0);

      sim.faults.failNext(1, 500);
      expect((await kommo.getLeads([lead])).get(lead)!.id).toBe(lead);
      expect(apiRequests("GET", "/leads").map((r) => r.status)).toEqual([500, 200]);
    });

    it("creates a task due at the given time for the responsible user", async () => {
      const due = new Date("2030-01-02T03:04:05Z");
      const id = await kommo.addTask({ text: "Check the e-mail address", completeTill: due, entityType: "contacts", entityId: sim.seeded.contacts.ana, taskTypeId: 1 });
      expect(sim.tasksFor("contacts", sim.seeded.contacts.ana)).toEqual([
        expect.objectContaining({ id, text: "Check the e-mail address", completeTill: Math.floor(due.getTime() / 1000), taskTypeId: 1 }),
      ]);
    });

    it("surfaces Kommo's 400 validation errors as a non-retryable VendorError", async () => {
      const error = await kommo.updateContact(sim.seeded.contacts.ana, { customFields: [{ fieldId: 999, value: "x" }] }).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: "VendorError", status: 400, retryable: false });
      expect(apiRequests("PATCH", `/contacts/${sim.seeded.contacts.ana}`)).toHaveLength(1);
    });
  });

  describe("failures", () => {
    it("turns a 429 into VendorRateLimitError with the body's retry_after, without retrying inline", async () => {
      await start({ rateLimit: { max: 1, perMs: 60_000 }, retryAfterSeconds: 5 });
      await kommo.getPipelines();
      const error = await kommo.getPipelines().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VendorRateLimitError);
      expect(error).toMatchObject({ vendor: "kommo", status: 429, retryAfterMs: 5_000, retryable: true });
      expect(sim.requests.count()).toBe(2);
    });

    it("turns a 401 into a non-retryable VendorError and does not retry", async () => {
      await start({}, "revoked-token");
      const error = await kommo.getLeads([sim.seeded.leads.anaWebsite]).catch((e: unknown) => e);
      expect(isVendorError(error)).toBe(true);
      expect(error).toMatchObject({ status: 401, retryable: false });
      expect(sim.requests.count()).toBe(1);
    });

    it("turns an IP block's 403 page into a VendorBlockedError, tells the gate, and does not retry", async () => {
      await start();
      const blocked: string[] = [];
      const gate = Object.assign(async () => undefined, { block: async (vendor: string) => (blocked.push(vendor), 1_234) });
      kommo = new KommoClient({ baseUrl: sim.url, accessToken: "sim-kommo-token", http: { gate, retryBaseDelayMs: 0 } });
      sim.faults.failNext(1, 403);
      const error = await kommo.getPipelines().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VendorBlockedError);
      expect(error).toMatchObject({ vendor: "kommo", status: 403, retryAfterMs: 1_234 });
      expect(blocked).toEqual(["kommo"]);
      expect(sim.requests.count()).toBe(1);
    });

    it("retries a 504 on a read and gives up with a retryable error after the retries", async () => {
      await start();
      sim.faults.failNext(3, 504);
      const error = await kommo.getPipelines().catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 504, retryable: true });
      expect(sim.requests.count()).toBe(3);
    });

    it("passes every attempt through the injected rate-limit gate under KOMMO_LIMITS' key", async () => {
      await start();
      const gated: string[] = [];
      kommo = new KommoClient({
        baseUrl: `${sim.url}/`,
        accessToken: "sim-kommo-token",
        http: { retryBaseDelayMs: 0, gate: async (vendor, limitKey) => void gated.push(`${vendor}/${limitKey}`) },
      });
      sim.faults.failNext(1, 500);
      await kommo.getLeads([sim.seeded.leads.anaWebsite]);
      await kommo.addNotes("leads", [{ entityId: sim.seeded.leads.anaWebsite, text: "x" }]);
      expect(Object.keys(KOMMO_LIMITS)).toEqual(["default", "background"]);
      expect(gated).toEqual(["kommo/default", "kommo/default", "kommo/default"]);
      expect(sim.requests.count()).toBe(3);
    });
  });

  describe("events and webhooks", () => {
    it("reads a time window of the events feed, 250 a page, of the given types, under the background limit", async () => {
      await start();
      const gated: string[] = [];
      kommo = new KommoClient({ baseUrl: sim.url, accessToken: "sim-kommo-token", http: { retryBaseDelayMs: 0, gate: async (vendor, limitKey) => void gated.push(`${vendor}/${limitKey}`) } });
      const from = Math.floor(Date.now() / 1000) - 5;
      await sim.moveLead(sim.seeded.leads.anaWebsite, 6002);
      await sim.moveLead(sim.seeded.leads.carlaInbound, 142);
      const page = await kommo.listEvents({ types: ["lead_status_changed", "lead_added"], from, to: from + 60, page: 1 });
      expect(page.hasMore).toBe(false);
      expect(page.events.map((e) => [e.type, e.entityId, e.statusAfter, e.statusBefore])).toEqual([
        ["lead_status_changed", sim.seeded.leads.carlaInbound, { pipelineId: 5001, statusId: 142 }, { pipelineId: 5001, statusId: 6001 }],
        ["lead_status_changed", sim.seeded.leads.anaWebsite, { pipelineId: 5001, statusId: 6002 }, { pipelineId: 5001, statusId: 6001 }],
      ]);
      expect(apiRequests("GET", "/events")[0]!.query).toMatchObject({ limit: "250", filter: { type: "lead_status_changed,lead_added", created_at: { from: String(from) } } });
      expect(gated).toEqual(["kommo/background"]);
      expect(await kommo.listEvents({ types: ["lead_deleted"], from, to: from + 60, page: 1 })).toEqual({ events: [], hasMore: false });
    });

    it("lists webhooks (none: 204), and saves one again to re-enable it", async () => {
      await start();
      expect(await kommo.listWebhooks()).toEqual([]);
      const hook = sim.addWebhook("https://sync.example.test/webhooks/kommo/s3cret", ["add_lead"]);
      hook.disabled = true;
      expect(await kommo.listWebhooks()).toEqual([{ id: hook.id, destination: hook.destination, settings: ["add_lead"], disabled: true }]);
      const saved = await kommo.saveWebhook(hook.destination, ["add_lead", "status_lead"]);
      expect(saved).toMatchObject({ destination: hook.destination, settings: ["add_lead", "status_lead"], disabled: false });
      expect(sim.state.webhooks).toHaveLength(1);
    });
  });
});
