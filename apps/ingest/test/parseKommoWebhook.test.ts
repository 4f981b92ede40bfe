import express from "express";
import request from "supertest";
import { encodeKommoWebhook, startKommoSimulator } from "@funnelsync/simulators";
import qs from "qs";
import { jobForKommoChange, readKommoBody } from "@funnelsync/ingest";
import { jobIdFor } from "@funnelsync/jobs";
import { decodeKommoForm, KommoFormError, parseKommoWebhook, type KommoChange } from "@funnelsync/kommo-client/webhook";

/** The job id ingest gives a change: the identity that deduplicates redeliveries. */
function kommoChangeKey(change: KommoChange): string {
  const job = jobForKommoChange(change);
  return job ? jobIdFor(job.name, job.data) : `ignored-${change.kind}`;
}

/** The wire example of vendor-apis.md §1.6, byte for byte. */
const STATUS_WIRE =
  "leads%5Bstatus%5D%5B0%5D%5Bid%5D=15318175&leads%5Bstatus%5D%5B0%5D%5Bstatus_id%5D=67548619&leads%5Bstatus%5D%5B0%5D%5Bold_status_id%5D=67548607&leads%5Bstatus%5D%5B0%5D%5Bpipeline_id%5D=8572511&leads%5Bstatus%5D%5B0%5D%5Bprice%5D=1000&leads%5Bstatus%5D%5B0%5D%5Bresponsible_user_id%5D=11087123&leads%5Bstatus%5D%5B0%5D%5Bupdated_at%5D=1726572758&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bid%5D=1246489&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bname%5D=Select&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bvalues%5D%5B0%5D%5Bvalue%5D=2&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bvalues%5D%5B0%5D%5Benum%5D=908107&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B1%5D%5Bid%5D=1246491&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B1%5D%5Bname%5D=Date&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B1%5D%5Bvalues%5D%5B0%5D=1725915600&account%5Bsubdomain%5D=acme&account%5Bid%5D=32720107&account%5B_links%5D%5Bself%5D=https%3A%2F%2Facme.amocrm.com";

const ACCOUNT = { subdomain: "acme", id: "32720107", _links: { self: "https://acme.amocrm.com" } };

/** Reads the body as ingest's Kommo route does; a refused body goes to the app's error handler. */
const kommoBody: express.RequestHandler = (req, _res, next) => {
  readKommoBody(req).then((body) => {
    req.body = body;
    next();
  }, next);
};

/** Parses bodies exactly as ingest does. */
function receiverApp(seen: unknown[] = []) {
  const app = express();
  app.post("/hook", kommoBody, (req, res) => {
    seen.push(req.body);
    const changes = parseKommoWebhook(req.body);
    res.json({ changes, keys: changes.map(kommoChangeKey) });
  });
  return app;
}

async function post(body: string | object): Promise<{ changes: KommoChange[]; keys: string[] }> {
  const req = request(receiverApp()).post("/hook");
  const res = typeof body === "string" ? await req.type("form").send(body) : await req.send(body);
  expect(res.status).toBe(200);
  return res.body;
}

describe("parseKommoWebhook", () => {
  it("reads the real stage-change body into one status change with a BullMQ-safe key", async () => {
    const { changes, keys } = await post(STATUS_WIRE);
    expect(changes).toEqual([
      {
        kind: "lead.statusChanged",
        leadId: 15318175,
        pipelineId: 8572511,
        statusId: 67548619,
        oldStatusId: 67548607,
        updatedAt: 1726572758,
        accountId: 32720107, fingerprint: expect.stringMatching(/^[0-9a-f]{12}$/),
      },
    ]);
    expect(keys).toEqual(["kommo-lead-15318175-status-8572511-67548619-1726572758"]);
    expect(keys[0]).toMatch(/^[A-Za-z0-9-]+$/);
  });

  it("keeps the deep custom field values intact, lists as arrays as qs and JSON give them", async () => {
    const seen: Array<Record<string, any>> = [];
    await request(receiverApp(seen)).post("/hook").type("form").send(STATUS_WIRE).expect(200);
    expect(seen[0]!.leads.status[0].custom_fields).toEqual([
      { id: "1246489", name: "Select", values: [{ value: "2", enum: "908107" }] },
      { id: "1246491", name: "Date", values: ["1725915600"] },
    ]);
  });

  it("treats leads[update] with a different old_status_id as the same status change, with the same key", async () => {
    const status = await post(STATUS_WIRE);
    const update = await post(STATUS_WIRE.replace(/leads%5Bstatus%5D/g, "leads%5Bupdate%5D"));
    expect(update.changes.map((c) => c.kind)).toEqual(["lead.statusChanged"]);
    expect(update.keys).toEqual(status.keys);
  });

  it("treats leads[update] without a status move as an update", async () => {
    const same = encodeKommoWebhook({ leads: { update: [{ id: 15318175, status_id: 67548619, old_status_id: 67548619, updated_at: 1726572800 }] }, account: ACCOUNT });
    const plain = encodeKommoWebhook({ leads: { update: [{ id: 15318175, status_id: 67548619, pipeline_id: 8572511, last_modified: 1726572900 }] }, account: ACCOUNT });
    const [a, b] = [await post(same), await post(plain)];
    expect([a.changes[0]!.kind, b.changes[0]!.kind]).toEqual(["lead.updated", "lead.updated"]);
    expect(b.changes[0]).toMatchObject({ updatedAt: 1726572900, oldStatusId: null });
    expect(a.keys[0]).toMatch(/^kommo-lead-15318175-update-1726572800-[0-9a-f]{12}$/);
    expect(b.keys[0]).toMatch(/^kommo-lead-15318175-update-1726572900-[0-9a-f]{12}$/);
  });

  it("keys a status change without updated_at by its stage only", async () => {
    const { keys } = await post(encodeKommoWebhook({ leads: { status: [{ id: 15318175, status_id: 142, pipeline_id: 8572511, old_status_id: 67548619 }] }, account: { id: 32720107, subdomain: "acme" } }));
    expect(keys).toEqual(["kommo-lead-15318175-status-8572511-142-none"]);
  });

  it("reads a contact hook's linked_leads_id map keyed by real 8-digit lead ids", async () => {
    const body =
      "contacts%5Badd%5D%5B0%5D%5Bid%5D=43684612&contacts%5Badd%5D%5B0%5D%5Bname%5D=Ana+Souza" +
      "&contacts%5Badd%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bid%5D=700001&contacts%5Badd%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bcode%5D=PHONE" +
      "&contacts%5Badd%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bvalues%5D%5B0%5D%5Bvalue%5D=%2B5511990000001&contacts%5Badd%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bvalues%5D%5B0%5D%5Benum%5D=800012" +
      "&contacts%5Badd%5D%5B0%5D%5Blinked_leads_id%5D%5B35144366%5D%5BID%5D=35144366&contacts%5Badd%5D%5B0%5D%5Blinked_leads_id%5D%5B35144390%5D%5BID%5D=35144390" +
      "&contacts%5Badd%5D%5B0%5D%5Btype%5D=contact&contacts%5Badd%5D%5B0%5D%5Bupdated_at%5D=1726573000&account%5Bsubdomain%5D=acme&account%5Bid%5D=32720107";
    const { changes, keys } = await post(body);
    expect(changes).toEqual([{ kind: "contact.added", contactId: 43684612, updatedAt: 1726573000, accountId: 32720107, linkedLeadIds: [35144366, 35144390], fingerprint: expect.any(String) }]);
    expect(keys).toEqual(["kommo-contact-43684612-added"]);
  });

  it("keeps small linked lead ids as keys (qs compacted them into an array and lost them)", async () => {
    const body = "contacts%5Bupdate%5D%5B0%5D%5Bid%5D=9&contacts%5Bupdate%5D%5B0%5D%5Blinked_leads_id%5D%5B5%5D%5BID%5D=5&contacts%5Bupdate%5D%5B0%5D%5Blinked_leads_id%5D%5B7%5D%5BID%5D=7&contacts%5Bupdate%5D%5B0%5D%5Blast_modified%5D=1726573000";
    const seen: Array<Record<string, any>> = [];
    await request(receiverApp(seen)).post("/hook").type("form").send(body).expect(200);
    expect(seen[0]!.contacts.update[0].linked_leads_id).toEqual({ 5: { ID: "5" }, 7: { ID: "7" } });
    expect((qs.parse(body) as any).contacts.update[0].linked_leads_id).toEqual([{ ID: "5" }, { ID: "7" }]);
    const { changes } = await post(body);
    expect(changes).toEqual([{ kind: "contact.updated", contactId: 9, updatedAt: 1726573000, accountId: null, linkedLeadIds: [5, 7], fingerprint: expect.any(String) }]);
    // What a qs-decoded or JSON body holds instead is read the same way.
    expect(parseKommoWebhook(qs.parse(body))[0]).toMatchObject({ linkedLeadIds: [5, 7] });
  });

  it("decodes a form as qs with body-parser's options did, for the wire example and a contact hook", () => {
    const contact = encodeKommoWebhook({
      contacts: { update: [{ id: 43684612, name: "Ana Souza & Co", custom_fields: [{ id: 700001, code: "EMAIL", values: [{ value: "ana+1@example.com", enum: 800011 }] }], linked_leads_id: { 35144366: { ID: 35144366 } } }] },
      account: ACCOUNT,
    });
    // Brackets written literally, `+` for spaces, escapes in keys and values, a key without `=`, empty pairs.
    const handWritten = "leads[status][0][id]=7&leads[status][0][name]=Ana+Souza+%26+Co&leads%5bstatus%5d%5b0%5d%5bnote%5D=caf%C3%A9&flag&&x%20y=1";
    for (const body of [STATUS_WIRE, contact, handWritten]) expect(decodeKommoForm(body)).toEqual(qs.parse(body, { depth: 32, arrayLimit: 100 }));
    expect(decodeKommoForm(handWritten)).toMatchObject({ leads: { status: [{ id: "7", name: "Ana Souza & Co", note: "café" }] }, flag: "", "x y": "1" });
    // A malformed escape is kept as written rather than failing the whole body.
    expect(decodeKommoForm("leads%5Bstatus%5D%5B0%5D%5Bname%5D=100%25+off%ZZ")).toEqual({ leads: { status: [{ name: "100% off%ZZ" }] } });
  });

  it("refuses a form with more than 10,000 parameters or nested deeper than 32 levels (413 naming the limit), through ingest's error answer", async () => {
    const many = Array.from({ length: 10_001 }, (_, i) => `p${i}=1`).join("&");
    expect(() => decodeKommoForm(many)).toThrow(expect.objectContaining({ status: 413 }));
    const deep = `leads${"%5Bx%5D".repeat(33)}=1`;
    expect(() => decodeKommoForm(deep)).toThrow(KommoFormError);
    expect(() => decodeKommoForm(`leads${"%5Bx%5D".repeat(32)}=1`)).not.toThrow();
    const app = express().post("/hook", kommoBody, (_req, res) => void res.sendStatus(200));
    app.use(((err, _req, res, _next) => void res.status(err.status).send(err.message)) as express.ErrorRequestHandler);
    const refused = await request(app).post("/hook").type("form").send(deep);
    expect([refused.status, refused.text]).toEqual([413, "nested deeper than 32 levels"]);
  });

  it("never writes to a prototype, and keeps every value of a repeated key", () => {
    const decoded = decodeKommoForm("__proto__%5Bpolluted%5D=1&leads%5Bconstructor%5D%5Bprototype%5D%5Bx%5D=1&tags%5B%5D=a&tags%5B%5D=b&name=Ana+Souza");
    expect(({} as any).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(decoded).toEqual({ tags: { "": ["a", "b"] }, name: "Ana Souza" });
  });

  it("reads every lead of a body with 30 leads and over 1000 parameters", async () => {
    const leads = Array.from({ length: 30 }, (_, i) => ({
      id: 31000000 + i,
      status_id: 67548619,
      old_status_id: 67548607,
      pipeline_id: 8572511,
      updated_at: 1726572758 + i,
      custom_fields: Array.from({ length: 12 }, (_, f) => ({ id: 1246400 + f, name: `Field ${f}`, values: [{ value: `v${f}`, enum: 900000 + f }] })),
    }));
    const body = encodeKommoWebhook({ leads: { status: leads }, account: ACCOUNT });
    expect(body.split("&").length).toBeGreaterThan(1000);
    const withDefaults = express().post("/hook", express.urlencoded({ extended: true }), (_req, res) => void res.sendStatus(200));
    await request(withDefaults).post("/hook").type("form").send(body).expect(413); // body-parser's parameterLimit 1000
    const { changes, keys } = await post(body);
    expect(changes.map((c) => ("leadId" in c ? c.leadId : 0))).toEqual(leads.map((l) => l.id));
    expect(new Set(keys).size).toBe(30);
  });

  it("reads a list that qs turned into an index-keyed object (an index past arrayLimit)", async () => {
    const body = "leads%5Badd%5D%5B0%5D%5Bid%5D=31000001&leads%5Badd%5D%5B150%5D%5Bid%5D=31000002&account%5Bid%5D=32720107";
    const { changes } = await post(body);
    expect(changes.map((c) => [c.kind, "leadId" in c && c.leadId])).toEqual([
      ["lead.added", 31000001],
      ["lead.added", 31000002],
    ]);
  });

  it("accepts JSON of the same structure", async () => {
    const { changes } = await post({ leads: { delete: [{ id: "31000003", status_id: "143", pipeline_id: "5001" }] }, account: { id: "32720107" } });
    expect(changes).toEqual([{ kind: "lead.deleted", leadId: 31000003, pipelineId: 5001, statusId: 143, oldStatusId: null, updatedAt: null, accountId: 32720107, fingerprint: expect.any(String) }]);
  });

  it("ignores companies, tasks and other entities, and drops changes without a numeric id", async () => {
    const body = encodeKommoWebhook({
      contacts: { add: [{ id: 555, type: "company" }, { id: "12ab", type: "contact" }] },
      task: { add: [{ id: 1, text: "x" }] },
      unsorted: { add: [{ uid: "x" }] },
      leads: { status: [{ status_id: 142 }, { id: "1e3", status_id: 142 }], note: [{ note: { id: 5 } }] },
      account: ACCOUNT,
    });
    expect((await post(body)).changes).toEqual([]);
    expect(parseKommoWebhook("leads[add][0][id]=1")).toEqual([]); // undecoded text is not a body
    expect(parseKommoWebhook(null)).toEqual([]);
  });

  it("parses what the simulator delivers: a move arrives twice and dedupes to one key", async () => {
    const sim = await startKommoSimulator();
    const seen: unknown[] = [];
    const server = receiverApp(seen).listen(0, "127.0.0.1");
    try {
      await new Promise((r) => server.once("listening", r));
      const { port } = server.address() as { port: number };
      sim.addWebhook(`http://127.0.0.1:${port}/hook`, ["status_lead", "update_lead", "update_contact"]);
      await sim.moveLead(sim.seeded.leads.anaWebsite, 6002);
      await sim.updateContact(sim.seeded.contacts.ana, { optIn: false });
      const changes = seen.flatMap(parseKommoWebhook);
      expect(changes.map((c) => c.kind)).toEqual(["lead.statusChanged", "lead.statusChanged", "contact.updated"]);
      expect(new Set(changes.slice(0, 2).map(kommoChangeKey)).size).toBe(1);
      expect(changes[0]).toMatchObject({ leadId: sim.seeded.leads.anaWebsite, pipelineId: 5001, statusId: 6002, oldStatusId: 6001, accountId: 32720107 });
      expect(changes[2]).toMatchObject({ contactId: sim.seeded.contacts.ana, linkedLeadIds: [sim.seeded.leads.anaWebsite, sim.seeded.leads.anaPartner], fingerprint: expect.any(String) });
      expect(sim.state.deliveries.every((d) => d.ok)).toBe(true);
    } finally {
      server.close();
      await sim.close();
    }
  });
});
