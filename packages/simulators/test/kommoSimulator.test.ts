import express from "express";
import qs from "qs";
import { encodeKommoWebhook, startKommoSimulator, type KommoSimulator, type KommoSimulatorOptions } from "../src/kommo/startKommoSimulator";
import { startServer, type RunningServer } from "../src/shared/startServer";

const TOKEN = "sim-kommo-token";

describe("Kommo simulator", () => {
  let sim: KommoSimulator;
  const open: Array<{ close(): Promise<void> }> = [];

  async function start(options: KommoSimulatorOptions = {}): Promise<KommoSimulator> {
    sim = await startKommoSimulator({ rateLimit: { max: 1_000, perMs: 1_000 }, ...options });
    open.push(sim);
    return sim;
  }

  /** Bodies are Kommo's JSON, read loosely in assertions. */
  type ApiResponse = Omit<Response, "json"> & { json(): Promise<any> };

  function api(path: string, init: RequestInit & { token?: string | null; json?: unknown } = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = {};
    if (init.token !== null) headers.Authorization = `Bearer ${init.token ?? TOKEN}`;
    if (init.json !== undefined) headers["Content-Type"] = "application/json";
    return fetch(`${sim.url}/api/v4${path}`, { ...init, headers, body: init.json === undefined ? init.body : JSON.stringify(init.json) });
  }

  /** A webhook receiver that keeps each raw body and its content type. */
  async function receiver(answer: (res: express.Response) => void = (res) => void res.sendStatus(200)) {
    const received: Array<{ contentType: string | undefined; raw: string }> = [];
    const app = express();
    app.post("/hook", express.text({ type: () => true }), (req, res) => {
      received.push({ contentType: req.headers["content-type"], raw: req.body as string });
      answer(res);
    });
    const server: RunningServer = await startServer(app);
    open.push(server);
    return { url: `${server.url}/hook`, received };
  }

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  describe("auth and envelopes", () => {
    beforeEach(() => start());

    it("answers 401 problem+json for a missing or wrong token", async () => {
      for (const token of [null, "wrong"]) {
        const res = await api("/leads/pipelines", { token });
        expect(res.status).toBe(401);
        expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
        expect(await res.json()).toEqual({ title: "Unauthorized", type: "https://httpstatus.es/401", status: 401, detail: "Invalid user name or password" });
      }
    });

    it("answers 404 with the account URL for an unknown route", async () => {
      const res = await api("/nope");
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ status: 404, detail: "Cannot GET https://acme.kommo.com/api/v4/nope" });
    });

    it("answers injected faults with Kommo's own envelopes", async () => {
      sim.faults.failNext(1, 500).rateLimitNext(1).failNext(1, 403);
      const failed = await api("/leads/pipelines");
      expect(failed.status).toBe(500);
      expect(await failed.json()).toMatchObject({ title: "ErrInternalServer", status: 500, trace_id: expect.any(String) });
      const limited = await api("/leads/pipelines");
      expect(limited.status).toBe(429);
      expect(await limited.json()).toMatchObject({ status: 429, retry_after: 300 }); // Kommo's documented default
      const blocked = await api("/leads/pipelines");
      expect(blocked.status).toBe(403);
      expect(await blocked.text()).toContain("<center>nginx</center>");
    });
  });

  describe("reads", () => {
    beforeEach(() => start());

    it("answers 204 with an empty body for a lead or contact that does not exist", async () => {
      for (const path of ["/leads/99999999?with=contacts", "/contacts/99999999"]) {
        const res = await api(path);
        expect(res.status).toBe(204);
        expect(await res.text()).toBe("");
      }
    });

    it("returns a lead as hal+json with its contacts only when asked with=contacts", async () => {
      const { leads, contacts, fields } = sim.seeded;
      const withContacts = await api(`/leads/${leads.brunoReferral}?with=contacts`);
      expect(withContacts.headers.get("content-type")).toMatch(/^application\/hal\+json/);
      const lead = await withContacts.json();
      expect(lead).toMatchObject({
        id: leads.brunoReferral,
        status_id: 6002,
        pipeline_id: 5001,
        price: 12000,
        custom_fields_values: [{ field_id: fields.budget, field_type: "numeric", values: [{ value: "12000" }] }],
        _embedded: { tags: [{ name: "vip" }], contacts: [{ id: contacts.bruno, is_main: true }, { id: contacts.diego, is_main: false }] },
      });
      const plain = await (await api(`/leads/${leads.brunoReferral}`)).json();
      expect(plain._embedded.contacts).toBeUndefined();
    });

    it("reads contacts' EMAIL as a multitext field with enum codes, and null fields when there are none", async () => {
      const { contacts, fields } = sim.seeded;
      const bruno = await (await api(`/contacts/${contacts.bruno}?with=leads`)).json();
      expect(bruno.custom_fields_values).toContainEqual({
        field_id: fields.email, field_name: "Email", field_code: "EMAIL", field_type: "multitext",
        values: [
          { value: "bruno@example.test", enum_id: expect.any(Number), enum_code: "WORK" },
          { value: "bruno.lima@work.example.test", enum_id: expect.any(Number), enum_code: "PRIV" },
        ],
      });
      expect(bruno._embedded.leads).toEqual([expect.objectContaining({ id: sim.seeded.leads.brunoReferral })]);
      const bare = await sim.addContact({ name: "No Fields" });
      expect((await (await api(`/contacts/${bare.id}`)).json()).custom_fields_values).toBeNull();
    });

    it("filters leads by many ids in one request, leaving unknown ids out, and answers 204 when none match", async () => {
      const { leads } = sim.seeded;
      const query = qs.stringify({ filter: { id: [leads.anaWebsite, leads.carlaInbound, 39999999] }, with: "contacts", limit: 250 }, { arrayFormat: "brackets" });
      const body = await (await api(`/leads?${query}`)).json();
      expect(body._embedded.leads.map((l: { id: number }) => l.id)).toEqual([leads.anaWebsite, leads.carlaInbound]);
      expect(body._links.next).toBeUndefined();
      const none = await api(`/leads?${qs.stringify({ filter: { id: [39999999] } }, { arrayFormat: "brackets" })}`);
      expect(none.status).toBe(204);
    });

    it("takes more than 20 filter[id][] values (PHP has no qs arrayLimit)", async () => {
      const ids = [...Array.from({ length: 40 }, (_, i) => 39000000 + i), sim.seeded.leads.joanaTrial];
      const body = await (await api(`/leads?${qs.stringify({ filter: { id: ids } }, { arrayFormat: "brackets" })}`)).json();
      expect(body._embedded.leads.map((l: { id: number }) => l.id)).toEqual([sim.seeded.leads.joanaTrial]);
    });

    it("answers 422 for a limit over 250", async () => {
      const res = await api("/leads?limit=251");
      expect(res.status).toBe(422);
      expect(await res.json()).toMatchObject({ status: 422, detail: "Limit 250 per page" });
    });

    it("pages with _links.next only while more pages exist, filtered by stage", async () => {
      const stage = "filter[statuses][0][pipeline_id]=5001&filter[statuses][0][status_id]=6001";
      const first = await (await api(`/leads?${stage}&limit=1&page=1`)).json();
      expect(first._page).toBe(1);
      expect(first._links.next.href).toContain("page=2");
      const second = await (await api(`/leads?${stage}&limit=1&page=2`)).json();
      expect(second._links.next).toBeUndefined();
      expect([first, second].map((p) => p._embedded.leads[0].status_id)).toEqual([6001, 6001]);
      expect((await api(`/leads?${stage}&limit=1&page=3`)).status).toBe(204);
    });

    it("filters leads by updated_at", async () => {
      const lead = await sim.addLead({ name: "Fresh" });
      const body = await (await api(`/leads?filter[updated_at][from]=${lead.updatedAt}`)).json();
      expect(body._embedded.leads.map((l: { id: number }) => l.id)).toEqual([lead.id]);
    });

    it("searches contacts fuzzily: a query for one address also finds a longer one that contains it", async () => {
      const body = await (await api(`/contacts?query=${encodeURIComponent("ana@example.test")}`)).json();
      expect(body._embedded.contacts.map((c: { id: number }) => c.id).sort()).toEqual([sim.seeded.contacts.ana, sim.seeded.contacts.joana]);
      expect((await api("/contacts?query=nobody%40nowhere.test")).status).toBe(204);
    });

    it("lists pipelines, each with statuses 142 and 143", async () => {
      const body = await (await api("/leads/pipelines")).json();
      const pipelines = body._embedded.pipelines as Array<{ id: number; _embedded: { statuses: Array<{ id: number }> } }>;
      expect(pipelines.map((p) => p.id)).toEqual([5001, 5002]);
      for (const p of pipelines) expect(p._embedded.statuses.map((s) => s.id)).toEqual(expect.arrayContaining([142, 143]));
    });
  });

  describe("writes", () => {
    beforeEach(() => start());

    it("answers 'Request data can not be empty' for an empty body", async () => {
      const res = await api(`/contacts/${sim.seeded.contacts.ana}`, { method: "PATCH", json: {} });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ status: 400, detail: "Request data can not be empty" });
    });

    it("rejects a non-boolean checkbox and an unknown field with validation-errors, changing nothing", async () => {
      const { contacts, fields } = sim.seeded;
      const res = await api(`/contacts/${contacts.ana}`, {
        method: "PATCH",
        json: { name: "Changed", custom_fields_values: [{ field_id: fields.optIn, values: [{ value: "false" }] }, { field_id: 123, values: [{ value: "x" }] }] },
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        "validation-errors": [
          {
            request_id: "0",
            errors: [
              { code: "InvalidType", path: "custom_fields_values.0.values.0.value", detail: "This value should be of type bool." },
              { code: "NotSupportedChoice", path: "custom_fields_values.1.field_id", detail: "The value you selected is not a valid choice." },
            ],
          },
        ],
        title: "Bad Request",
        type: "https://httpstatus.es/400",
        status: 400,
        detail: "Request validation failed",
      });
      expect(sim.contact(contacts.ana)!.name).toBe("Ana Souza");
    });

    it("patches fields by id, adds tags without dropping others, and bumps updated_at", async () => {
      const { contacts, fields } = sim.seeded;
      const before = sim.contact(contacts.ana)!.updatedAt;
      const res = await api(`/contacts/${contacts.ana}`, {
        method: "PATCH",
        json: { custom_fields_values: [{ field_id: fields.optIn, values: [{ value: false }] }], tags_to_add: [{ name: "email-unsubscribed" }] },
      });
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toMatchObject({ id: contacts.ana, updated_at: expect.any(Number) });
      expect(body.updated_at).toBeGreaterThan(before);
      const ana = sim.contact(contacts.ana)!;
      expect(sim.fieldValues(ana, fields.optIn)).toEqual([false]);
      expect(ana.tags.map((t) => t.name)).toEqual(["newsletter", "email-unsubscribed"]);
    });

    it("replaces all tags when _embedded.tags is sent", async () => {
      const { contacts } = sim.seeded;
      await api(`/contacts/${contacts.ana}`, { method: "PATCH", json: { _embedded: { tags: [{ name: "only" }] }, tags_to_add: [{ name: "ignored" }] } });
      expect(sim.contact(contacts.ana)!.tags.map((t) => t.name)).toEqual(["only"]);
    });

    it("patches a batch given as an array, answering each item's request_id", async () => {
      const { leads } = sim.seeded;
      const res = await api("/leads", { method: "PATCH", json: [{ id: leads.anaWebsite, status_id: 6002 }, { id: leads.carlaInbound, price: 10 }] });
      const body = await res.json();
      expect(body._embedded.leads).toEqual([
        expect.objectContaining({ id: leads.anaWebsite, request_id: "0" }),
        expect.objectContaining({ id: leads.carlaInbound, request_id: "1" }),
      ]);
      expect(sim.lead(leads.anaWebsite)!.statusId).toBe(6002);
      expect(sim.lead(leads.carlaInbound)!.price).toBe(10);
    });

    it("refuses a batch PATCH or task POST that is an object, empty or over 250 items, each with its own 400", async () => {
      const { leads } = sim.seeded;
      const detailOf = async (path: string, method: string, json: unknown) => {
        const res = await api(path, { method, json });
        const body = await res.json();
        return { status: res.status, detail: body.detail, errors: body["validation-errors"] };
      };
      expect(await detailOf("/leads", "PATCH", { id: leads.anaWebsite, price: 1 })).toEqual({
        status: 400,
        detail: "Request validation failed",
        errors: [{ request_id: "0", errors: [{ code: "InvalidType", path: "", detail: "This value should be of type array." }] }],
      });
      expect(await detailOf("/contacts", "PATCH", [])).toEqual({ status: 400, detail: "Request data can not be empty", errors: undefined });
      const tooMany = Array.from({ length: 251 }, () => ({ id: leads.anaWebsite, price: 1 }));
      expect(await detailOf("/leads", "PATCH", tooMany)).toEqual({ status: 400, detail: "Maximum 250 entities per request", errors: undefined });
      expect(await detailOf("/tasks", "POST", [])).toEqual({ status: 400, detail: "Request data can not be empty", errors: undefined });
      const tasks = Array.from({ length: 251 }, () => ({ text: "Call", complete_till: 1 }));
      expect(await detailOf("/tasks", "POST", tasks)).toEqual({ status: 400, detail: "Maximum 250 entities per request", errors: undefined });
      const named = await detailOf("/tasks", "POST", [{ text: "Call", complete_till: 1 }, { request_id: "second", text: "", complete_till: 1 }]);
      expect(named.errors).toEqual([{ request_id: "second", errors: [expect.objectContaining({ code: "NotBlank", path: "text" })] }]);
      expect(sim.lead(leads.anaWebsite)!.price).not.toBe(1);
      expect(sim.state.tasks).toHaveLength(0);
    });

    it("creates a duplicate note when the same POST is repeated (no idempotency)", async () => {
      const lead = sim.seeded.leads.anaWebsite;
      const notes = [{ entity_id: lead, note_type: "common", params: { text: "Subscribed to Moosend" } }];
      const first = await (await api("/leads/notes", { method: "POST", json: notes })).json();
      await api("/leads/notes", { method: "POST", json: notes });
      expect(first._embedded.notes).toEqual([expect.objectContaining({ id: expect.any(Number), entity_id: lead, request_id: "0" })]);
      expect(sim.notesFor("leads", lead).map((n) => n.params.text)).toEqual(["Subscribed to Moosend", "Subscribed to Moosend"]);
    });

    it("edits notes in place with PATCH /{entity}/notes, keeping their ids; over 250 items or an unknown note is refused whole", async () => {
      const lead = sim.seeded.leads.anaWebsite;
      const created = await (await api("/leads/notes", { method: "POST", json: [{ entity_id: lead, note_type: "common", params: { text: "Opened" } }] })).json();
      const id = created._embedded.notes[0].id;
      const edited = await api("/leads/notes", { method: "PATCH", json: [{ id, note_type: "common", params: { text: "Opened (2 times)" } }] });
      expect(edited.status).toBe(200);
      expect((await edited.json())._embedded.notes).toEqual([expect.objectContaining({ id, entity_id: lead, request_id: "0" })]);
      expect(sim.notesFor("leads", lead).map((n) => [n.id, n.params.text])).toEqual([[id, "Opened (2 times)"]]);

      const unknown = await api("/leads/notes", { method: "PATCH", json: [{ id, params: { text: "x" } }, { id: 999_999_999, params: { text: "y" } }] });
      expect(unknown.status).toBe(400);
      expect(sim.notesFor("leads", lead)[0]!.params.text).toBe("Opened (2 times)");
      const tooMany = Array.from({ length: 251 }, () => ({ id, params: { text: "z" } }));
      expect((await api("/leads/notes", { method: "PATCH", json: tooMany })).status).toBe(400);
      expect((await api("/leads/notes", { method: "POST", json: Array.from({ length: 251 }, () => ({ entity_id: lead, note_type: "common", params: { text: "z" } })) })).status).toBe(400);
    });

    it("lists an entity's notes and the open tasks by updated_at, 204 when none; a lost answer still writes", async () => {
      const contact = sim.seeded.contacts.ana;
      expect((await api(`/contacts/${contact}/notes`)).status).toBe(204);
      sim.faults.only((method, path) => method === "POST" && path.endsWith("/notes")).loseAnswerNext(1);
      const lost = await api(`/contacts/${contact}/notes`, { method: "POST", json: [{ note_type: "common", params: { text: "Bounced" } }] });
      expect(lost.status).toBe(504);
      const notes = await (await api(`/contacts/${contact}/notes?filter[note_type][]=common&filter[updated_at][from]=0`)).json();
      expect(notes._embedded.notes).toEqual([expect.objectContaining({ entity_id: contact, note_type: "common", params: { text: "Bounced" }, created_at: expect.any(Number) })]);
      const later = Math.floor(Date.now() / 1000) + 3600;
      expect((await api(`/contacts/${contact}/notes?filter[updated_at][from]=${later}`)).status).toBe(204);

      await api("/tasks", { method: "POST", json: [{ text: "Check the address", complete_till: later, entity_type: "contacts", entity_id: contact }] });
      const open = await (await api(`/tasks?filter[entity_type]=contacts&filter[entity_id][]=${contact}&filter[is_completed]=0`)).json();
      expect(open._embedded.tasks).toEqual([expect.objectContaining({ text: "Check the address", entity_id: contact, entity_type: "contacts", is_completed: false })]);
      expect((await api(`/tasks?filter[entity_type]=leads`)).status).toBe(204);
    });

    it("rejects a task without complete_till", async () => {
      const res = await api("/tasks", { method: "POST", json: [{ text: "Check the address", entity_type: "contacts", entity_id: sim.seeded.contacts.ana }] });
      expect(res.status).toBe(400);
      expect((await res.json())["validation-errors"][0].errors).toEqual([expect.objectContaining({ path: "complete_till" })]);
      expect(sim.state.tasks).toHaveLength(0);
    });
  });

  describe("rate limit", () => {
    it("allows 7 requests in any second and answers the 8th with 429 and retry_after in the body only", async () => {
      await start({ rateLimit: undefined, retryAfterSeconds: 3 });
      const answers = await Promise.all(Array.from({ length: 8 }, () => api("/leads/pipelines")));
      expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 429]);
      const limited = answers.find((r) => r.status === 429)!;
      expect(limited.headers.get("retry-after")).toBeNull();
      expect(await limited.json()).toEqual({
        title: "Too Many Requests",
        type: "https://httpstatus.es/429",
        status: 429,
        detail: "You have sent too many requests in a given amount of time. Please try again later.",
        retry_after: 3,
      });
    });

    it("counts a sliding window, not calendar seconds", async () => {
      let clock = 1_800_000_000_000 - 100; // the second request falls in the next calendar second
      await start({ rateLimit: { max: 2, perMs: 300 }, limitsNow: () => clock });
      expect((await api("/leads/pipelines")).status).toBe(200);
      clock += 200;
      expect((await api("/leads/pipelines")).status).toBe(200);
      expect((await api("/leads/pipelines")).status).toBe(429); // the first request is still inside the window
      clock += 150;
      expect((await api("/leads/pipelines")).status).toBe(200);
    });

    it("lists the requests that came while a 429's retry_after was still running, not those in flight or after it", async () => {
      let clock = 1_800_000_000_000;
      await start({ retryAfterSeconds: 2, limitsNow: () => clock });
      sim.faults.rateLimitNext(1);
      expect((await api("/leads/pipelines")).status).toBe(429);
      clock += 100; // already on its way when the 429 went out
      await api("/account");
      clock += 900;
      await api("/leads/pipelines");
      clock += 1_500; // past the 2 s the 429 asked for
      await api("/account");
      expect(sim.ignoredWaits.map((w) => [w.path, w.earlyByMs])).toEqual([["/api/v4/leads/pipelines", 1_000]]);
    });

    it("blocks the IP after too many 429s: 403 for everything, and webhooks disabled", async () => {
      await start({ rateLimit: { max: 1, perMs: 10_000 }, blockAfter429s: 3 });
      sim.addWebhook("http://127.0.0.1:9/hook", ["add_lead"]);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await api("/leads/pipelines")).status);
      expect(statuses).toEqual([200, 429, 429, 429, 403, 403]);
      const blocked = await api("/account", { token: "anything" });
      expect(blocked.status).toBe(403);
      expect(blocked.headers.get("content-type")).toMatch(/^text\/html/);
      expect(sim.state.webhooks[0]!.disabled).toBe(true);
    });
  });

  describe("webhooks", () => {
    it("registers a destination over the API and POSTs a move form-encoded as status_lead and update_lead", async () => {
      await start();
      const hook = await receiver();
      const created = await api("/webhooks", { method: "POST", json: { destination: hook.url, settings: ["status_lead", "update_lead"] } });
      expect(created.status).toBe(201);
      expect(await created.json()).toMatchObject({ destination: hook.url, settings: ["status_lead", "update_lead"], disabled: false });

      const lead = sim.seeded.leads.anaWebsite;
      await sim.moveLead(lead, 142);

      expect(hook.received.map((r) => r.contentType)).toEqual(["application/x-www-form-urlencoded", "application/x-www-form-urlencoded"]);
      const [status, update] = hook.received.map((r) => qs.parse(r.raw, { depth: 10, arrayLimit: 100 })) as Array<Record<string, any>>;
      expect(hook.received[0]!.raw).toContain(`leads%5Bstatus%5D%5B0%5D%5Bid%5D=${lead}`);
      expect(status!.leads.status[0]).toMatchObject({ id: String(lead), status_id: "142", old_status_id: "6001", pipeline_id: "5001" });
      expect(update!.leads.update[0]).toMatchObject({ id: String(lead), status_id: "142", old_status_id: "6001" });
      expect(update!.leads.update[0].updated_at).toBe(status!.leads.status[0].updated_at);
      const closeDate = sim.fieldValues(sim.lead(lead)!, sim.seeded.fields.closeDate)[0];
      expect(status!.leads.status[0].custom_fields).toEqual([
        { id: String(sim.seeded.fields.budget), name: "Budget", values: [{ value: "5000" }] },
        { id: String(sim.seeded.fields.closeDate), name: "Close date", values: [String(closeDate)] }, // a date is a bare value
      ]);
      expect(status!.account).toEqual({ subdomain: "acme", id: "32720107", _links: { self: "https://acme.amocrm.com" } });
      expect(sim.state.deliveries.map((d) => [d.event, d.status, d.ok])).toEqual([
        ["status_lead", 200, true],
        ["update_lead", 200, true],
      ]);
    });

    it("sends contact hooks with linked_leads_id keyed by lead id and custom_fields with codes", async () => {
      await start();
      const hook = await receiver();
      sim.addWebhook(hook.url, ["add_contact", "add_lead"]);
      const lead = await sim.addLead({ contact: { name: "Eva Dias", email: "eva@example.test", company: "Dias SA" }, budget: 700 });
      const [leadHook, contactHook] = hook.received.map((r) => r.raw);
      expect(leadHook).toContain(`leads%5Badd%5D%5B0%5D%5Bprice%5D=700`);
      const contactId = lead.contacts[0]!.id;
      expect(contactHook).toContain(`contacts%5Badd%5D%5B0%5D%5Blinked_leads_id%5D%5B${lead.id}%5D%5BID%5D=${lead.id}`);
      expect(contactHook).toContain(`contacts%5Badd%5D%5B0%5D%5Bid%5D=${contactId}`);
      expect(contactHook).toContain("%5Bcode%5D=EMAIL");
      expect(contactHook).toContain("%5Bvalues%5D%5B0%5D%5Bvalue%5D=eva%40example.test");
      expect(contactHook).toContain("contacts%5Badd%5D%5B0%5D%5Btype%5D=contact");
    });

    it("fires update_contact for the API's own writes", async () => {
      await start();
      const hook = await receiver();
      sim.addWebhook(hook.url, ["update_contact"]);
      await api(`/contacts/${sim.seeded.contacts.ana}`, { method: "PATCH", json: { tags_to_add: [{ name: "x" }] } });
      await sim.settled();
      expect(sim.state.deliveries.map((d) => d.event)).toEqual(["update_contact"]);
    });

    it("records a receiver slower than the timeout as an invalid delivery", async () => {
      await start({ webhookTimeoutMs: 100 });
      const hook = await receiver((res) => void setTimeout(() => res.sendStatus(200), 400));
      sim.addWebhook(hook.url, ["update_contact"]);
      await sim.updateContact(sim.seeded.contacts.ana, { optIn: false });
      expect(sim.state.deliveries).toEqual([expect.objectContaining({ event: "update_contact", status: "timeout", ok: false })]);
    });

    it("encodes a decoded webhook object the way Kommo sends it", () => {
      const body = encodeKommoWebhook({ leads: { status: [{ id: 15318175, status_id: "67548619", custom_fields: [{ id: 1, values: ["1725915600"] }] }] }, account: { subdomain: "acme" } });
      expect(body).toBe(
        "leads%5Bstatus%5D%5B0%5D%5Bid%5D=15318175&leads%5Bstatus%5D%5B0%5D%5Bstatus_id%5D=67548619" +
          "&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bid%5D=1&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bvalues%5D%5B0%5D=1725915600" +
          "&account%5Bsubdomain%5D=acme",
      );
    });
  });

  describe("events feed", () => {
    it("lists every change newest first in Kommo's item shape, filtered by type, entity, id and time; 204 when none match", async () => {
      let clock = 1_800_000_000_000;
      await start({ now: () => clock });
      const lead = sim.seeded.leads.anaWebsite;
      const since = Math.floor(clock / 1000);
      clock += 5_000;
      await sim.moveLead(lead, 6002);
      clock += 5_000;
      const patched = await api(`/contacts/${sim.seeded.contacts.ana}`, { method: "PATCH", json: { custom_fields_values: [{ field_id: sim.seeded.fields.optIn, values: [{ value: false }] }] } });
      expect(patched.status).toBe(200);
      clock += 5_000;
      await sim.deleteLead(lead);

      const all = await api(`/events?filter[created_at][from]=${since}`);
      expect(all.status).toBe(200);
      const items = (await all.json())._embedded.events;
      expect(items.map((e: { type: string }) => e.type)).toEqual(["lead_deleted", `custom_field_${sim.seeded.fields.optIn}_value_changed`, "lead_status_changed"]);
      expect(items[2]).toEqual({
        id: expect.stringMatching(/^[0-9a-z]{26}$/),
        type: "lead_status_changed",
        entity_id: lead,
        entity_type: "lead",
        created_by: expect.any(Number),
        created_at: since + 5,
        value_after: [{ lead_status: { id: 6002, pipeline_id: 5001 } }],
        value_before: [{ lead_status: { id: 6001, pipeline_id: 5001 } }],
        account_id: 32720107,
        _links: { self: { href: expect.stringContaining(`/api/v4/events/${items[2].id}`) } },
      });
      expect(items[1]).toMatchObject({ entity_type: "contact", entity_id: sim.seeded.contacts.ana, value_before: [{ custom_field_value: { field_id: sim.seeded.fields.optIn, text: "true" } }], value_after: [{ custom_field_value: { text: "false" } }] });

      const moves = await (await api(`/events?filter[type]=lead_status_changed,lead_added&filter[entity][]=lead&filter[entity_id][]=${lead}&filter[created_at][from]=${since}`)).json();
      expect(moves._embedded.events.map((e: { type: string }) => e.type)).toEqual(["lead_status_changed"]);
      const window = await (await api(`/events?filter[created_at][from]=${since + 6}&filter[created_at][to]=${since + 12}`)).json();
      expect(window._embedded.events).toHaveLength(1);
      const none = await api(`/events?filter[created_at][from]=${since + 100}`);
      expect(none.status).toBe(204);
      expect(await none.text()).toBe("");
    });

    it("pages at most 250 per page (422 above) with next links, and refuses more than 10 entity ids", async () => {
      await start();
      for (let i = 0; i < 260; i++) sim.events.record("lead_added", { type: "lead", id: 1000 + i });
      expect((await api("/events?limit=251")).status).toBe(422);
      const first = await (await api("/events?limit=250")).json();
      expect(first._embedded.events).toHaveLength(250);
      expect(first._links.next.href).toContain("page=2");
      const second = await (await api("/events?limit=250&page=2")).json();
      expect(second._embedded.events).toHaveLength(10);
      expect(second._links.next).toBeUndefined();
      const ids = Array.from({ length: 11 }, (_, i) => `filter[entity_id][]=${i + 1}`).join("&");
      expect((await api(`/events?${ids}`)).status).toBe(400);
    });

    it("drops a share of changes' webhooks (the change and its event still happen) and sends late duplicates on demand", async () => {
      const rolls = [0.1, 0.9, 0.1]; // change 1 dropped; change 2 sent and held for a late duplicate
      await start({ random: () => rolls.shift() ?? 0.9 });
      const hook = await receiver();
      sim.addWebhook(hook.url, ["status_lead"]);
      sim.webhookFaults.dropShare = 0.3;
      sim.webhookFaults.lateDuplicateShare = 0.3;
      await sim.moveLead(sim.seeded.leads.anaWebsite, 6002);
      await sim.moveLead(sim.seeded.leads.carlaInbound, 6002);
      expect(sim.lead(sim.seeded.leads.anaWebsite)!.statusId).toBe(6002);
      expect(sim.droppedChanges()).toBe(1);
      expect(hook.received).toHaveLength(1);
      expect(sim.events.events.filter((e) => e.type === "lead_status_changed")).toHaveLength(2);
      expect(await sim.sendLateDuplicates()).toBe(1);
      expect(hook.received).toHaveLength(2);
      expect(hook.received[1]!.raw).toBe(hook.received[0]!.raw);
    });
  });
});
