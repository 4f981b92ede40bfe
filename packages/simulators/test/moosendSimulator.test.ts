import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SEED } from "../src/seed";
import { startMoosendSimulator, type MoosendSimulator, type MoosendSimulatorOptions } from "../src/moosend/startMoosendSimulator";

const [NEW_LEADS, NURTURE, CUSTOMERS] = SEED.moosend.lists.map((list) => list.id) as [string, string, string];
const KEY = "sim-moosend-key";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

let sim: MoosendSimulator;

async function start(options: MoosendSimulatorOptions = {}): Promise<MoosendSimulator> {
  sim = await startMoosendSimulator(options);
  return sim;
}

afterEach(async () => {
  await sim?.close();
});

/** A raw call, as any HTTP client would make it; `apikey: null` leaves the key out. */
async function call(
  method: "GET" | "POST",
  path: string,
  options: { body?: unknown; query?: Record<string, string>; apikey?: string | null } = {},
): Promise<{ status: number; body: any; contentType: string | null }> {
  const url = new URL(`${sim.url}/v3${path}`);
  if (options.apikey !== null) url.searchParams.set("apikey", options.apikey ?? KEY);
  for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, value);
  const response = await fetch(url, {
    method,
    headers: { accept: "application/json", ...(options.body !== undefined ? { "content-type": "application/json" } : {}) },
    body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
  });
  const text = await response.text();
  const contentType = response.headers.get("content-type");
  return { status: response.status, body: contentType?.includes("json") ? JSON.parse(text) : text, contentType };
}

const subscribe = (listId: string, body: unknown, apikey?: string) =>
  call("POST", `/subscribers/${listId}/subscribe.json`, { body, apikey });

describe("Moosend simulator: auth and envelope", () => {
  it("answers 401 with an INVALID_API_KEY envelope for a missing or wrong apikey", async () => {
    await start();
    const missing = await call("GET", "/lists.json", { apikey: null });
    const wrong = await call("GET", "/lists.json", { apikey: "not-the-key" });
    for (const answer of [missing, wrong]) {
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({ Code: 401, Error: "INVALID_API_KEY", Context: null });
    }
  });

  it("accepts the key given in the options", async () => {
    await start({ apiKey: "custom-key" });
    expect((await call("GET", "/lists.json", { apikey: "custom-key" })).body.Code).toBe(0);
    expect((await call("GET", "/lists.json")).status).toBe(401);
  });

  it("records every request with its path, query and final status", async () => {
    await start();
    await subscribe(NEW_LEADS, { Email: "ana@example.test" });
    await call("GET", "/lists.json", { apikey: null });
    expect(sim.requests.entries.map((r) => [r.method, r.path, r.status])).toEqual([
      ["POST", `/v3/subscribers/${NEW_LEADS}/subscribe.json`, 200],
      ["GET", "/v3/lists.json", 401],
    ]);
    expect(sim.requests.entries[0]!.query.apikey).toBe(KEY);
  });
});

describe("Moosend simulator: subscribe", () => {
  it("creates a member with a GUID id, a lower-cased e-mail and /Date(ms)/ dates", async () => {
    await start();
    const before = Date.now();
    const answer = await subscribe(NEW_LEADS, {
      Email: "Ana.Silva@Example.TEST",
      Name: "Ana Silva",
      HasExternalDoubleOptIn: false,
      CustomFields: ["Company=Acme", "Budget=5000"],
    });
    expect(answer.status).toBe(200);
    expect(answer.body.Code).toBe(0);
    expect(answer.body.Error).toBeNull();
    const member = answer.body.Context;
    expect(member.ID).toMatch(GUID);
    expect(member.Email).toBe("ana.silva@example.test");
    expect(member.SubscribeType).toBe(1);
    expect(member.CreatedOn).toMatch(/^\/Date\(\d+\)\/$/);
    expect(Number(/\d+/.exec(member.CreatedOn)![0])).toBeGreaterThanOrEqual(before);
    expect(member.CustomFields).toEqual([
      { CustomFieldID: expect.stringMatching(GUID), Name: "Company", Value: "Acme" },
      { CustomFieldID: expect.stringMatching(GUID), Name: "Budget", Value: "5000" },
    ]);
    expect(sim.subscribers(NEW_LEADS)).toEqual([
      expect.objectContaining({ Email: "ana.silva@example.test", Status: "Subscribed", CustomFields: { Company: "Acme", Budget: "5000" } }),
    ]);
  });

  it("updates the same member when the e-mail is subscribed again (an upsert keyed by e-mail)", async () => {
    await start();
    const first = await subscribe(NEW_LEADS, { Email: "ana@example.test", CustomFields: ["Company=Acme", "Budget=1"] });
    const second = await subscribe(NEW_LEADS, { Email: "ANA@example.test", CustomFields: ["Company=Acme", "Budget=2"] });
    expect(second.body.Context.ID).toBe(first.body.Context.ID);
    expect(sim.subscribers(NEW_LEADS)).toHaveLength(1);
    expect(sim.subscribers(NEW_LEADS)[0]!.CustomFields.Budget).toBe("2");
  });

  it("clears every custom field the request leaves out", async () => {
    await start();
    await subscribe(NEW_LEADS, { Email: "ana@example.test", CustomFields: ["Company=Acme", "Budget=5000"] });
    const answer = await subscribe(NEW_LEADS, { Email: "ana@example.test", CustomFields: ["Company=Acme"] });
    expect(answer.body.Context.CustomFields).toEqual([expect.objectContaining({ Name: "Company", Value: "Acme" })]);
    expect(sim.subscribers(NEW_LEADS)[0]!.CustomFields).toEqual({ Company: "Acme" });
  });

  it("clears a field sent as \"Name=\" with no value", async () => {
    await start();
    await subscribe(NEW_LEADS, { Email: "ana@example.test", CustomFields: ["Company=Acme", "Budget=5000"] });
    await subscribe(NEW_LEADS, { Email: "ana@example.test", CustomFields: ["Company=Acme", "Budget="] });
    expect(sim.subscribers(NEW_LEADS)[0]!.CustomFields).toEqual({ Company: "Acme" });
  });

  it("re-subscribes a member who had unsubscribed (the consent trap)", async () => {
    await start();
    expect(sim.subscribers(NURTURE).find((m) => m.Email === "oliver@example.test")!.Status).toBe("Unsubscribed");
    const answer = await subscribe(NURTURE, { Email: "oliver@example.test", CustomFields: [] });
    expect(answer.body.Context.SubscribeType).toBe(1);
    expect(answer.body.Context.UnsubscribedOn).toBeNull();
    expect(sim.subscribers(NURTURE).find((m) => m.Email === "oliver@example.test")!.Status).toBe("Subscribed");
  });

  it("answers VALIDATION_ERROR on HTTP 200 for a custom field the list does not define, and changes nothing", async () => {
    await start();
    const answer = await subscribe(NEW_LEADS, { Email: "ana@example.test", CustomFields: ["Company=Acme", "Shoe size=44"] });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ Code: 400, Error: "VALIDATION_ERROR", Context: null });
    expect(sim.subscribers(NEW_LEADS)).toEqual([]);
  });

  it("answers business errors with HTTP 400/404 when errorsAsHttpStatus is set", async () => {
    await start({ errorsAsHttpStatus: true });
    const invalid = await subscribe(NEW_LEADS, { Email: "not-an-address" });
    const noList = await subscribe("0b6f5a1e-0000-4000-8000-00000000dead", { Email: "ana@example.test" });
    expect([invalid.status, invalid.body.Error]).toEqual([400, "VALIDATION_ERROR"]);
    expect([noList.status, noList.body.Error]).toEqual([404, "LIST_NOT_FOUND"]);
  });

  it("answers VALIDATION_ERROR for custom fields sent as an object instead of \"Name=Value\" strings", async () => {
    await start();
    const answer = await subscribe(NEW_LEADS, { Email: "ana@example.test", CustomFields: { Company: "Acme" } });
    expect(answer.body.Error).toBe("VALIDATION_ERROR");
  });

  it("answers LIST_NOT_FOUND for a list the account does not have", async () => {
    await start();
    const answer = await subscribe("0b6f5a1e-0000-4000-8000-00000000dead", { Email: "ana@example.test" });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ Code: 404, Error: "LIST_NOT_FOUND", Context: null });
  });
});

describe("Moosend simulator: subscribe_many and update", () => {
  it("skips invalid e-mails with Code 0 and an Error string naming them", async () => {
    await start();
    const answer = await call("POST", `/subscribers/${NEW_LEADS}/subscribe_many.json`, {
      body: {
        HasExternalDoubleOptIn: false,
        Subscribers: [
          { Email: "ana@example.test", Name: "Ana", CustomFields: ["Company=Acme"] },
          { Email: "not-an-address", CustomFields: [] },
          { Email: "ben@example.test", CustomFields: ["Budget=10"] },
          { Email: "also bad", CustomFields: [] },
        ],
      },
    });
    expect(answer.body.Code).toBe(0);
    expect(answer.body.Error).toBe("2 items with invalid email address were ignored: not-an-address, also bad");
    expect(answer.body.Context.map((m: { Email: string }) => m.Email)).toEqual(["ana@example.test", "ben@example.test"]);
    expect(sim.subscribers(NEW_LEADS).map((m) => m.Email)).toEqual(["ana@example.test", "ben@example.test"]);
  });

  it("leaves unsubscribed and bounced members as they are while answering success; the single subscribe re-activates", async () => {
    await start();
    sim.addSubscriber(NEW_LEADS, { email: "gone@example.test", status: "Unsubscribed", customFields: { Company: "Old" } });
    sim.addSubscriber(NEW_LEADS, { email: "bounced@example.test", status: "Bounced" });
    sim.addSubscriber(NEW_LEADS, { email: "removed@example.test", status: "Removed" });
    const many = await call("POST", `/subscribers/${NEW_LEADS}/subscribe_many.json`, {
      body: { Subscribers: ["gone", "bounced", "removed", "new"].map((name) => ({ Email: `${name}@example.test`, CustomFields: ["Company=New"] })) },
    });
    expect(many.body).toMatchObject({ Code: 0, Error: null });
    expect(many.body.Context.map((m: { SubscribeType: number }) => m.SubscribeType)).toEqual([1, 1, 1, 1]);
    const status = () => Object.fromEntries(sim.subscribers(NEW_LEADS).map((m) => [m.Email, m.Status]));
    expect(status()).toEqual({
      "gone@example.test": "Unsubscribed",
      "bounced@example.test": "Bounced",
      "removed@example.test": "Subscribed",
      "new@example.test": "Subscribed",
    });
    expect(sim.subscribers(NEW_LEADS)[0]!.CustomFields).toEqual({ Company: "Old" });

    await subscribe(NEW_LEADS, { Email: "gone@example.test" });
    await subscribe(NEW_LEADS, { Email: "bounced@example.test" });
    expect(Object.values(status())).toEqual(["Subscribed", "Subscribed", "Subscribed", "Subscribed"]);
  });

  it("refuses more than 1000 subscribers in one call", async () => {
    await start();
    const subscribers = Array.from({ length: 1001 }, (_, i) => ({ Email: `p${i}@example.test`, CustomFields: [] }));
    const answer = await call("POST", `/subscribers/${NEW_LEADS}/subscribe_many.json`, { body: { Subscribers: subscribers } });
    expect(answer.body.Error).toBe("VALIDATION_ERROR");
    expect(sim.subscribers(NEW_LEADS)).toEqual([]);
  });

  it("update/{SubscriberID} changes the e-mail, clears omitted fields and keeps the status", async () => {
    await start();
    const oliver = sim.subscribers(NURTURE).find((m) => m.Email === "oliver@example.test")!;
    const answer = await call("POST", `/subscribers/${NURTURE}/update/${oliver.ID}.json`, {
      body: { Email: "oliver.b@example.test", CustomFields: ["Budget=99"] },
    });
    expect(answer.body.Code).toBe(0);
    const updated = sim.subscribers(NURTURE).find((m) => m.ID === oliver.ID)!;
    expect(updated).toMatchObject({ Email: "oliver.b@example.test", Status: "Unsubscribed", CustomFields: { Budget: "99" } });
  });
});

describe("Moosend simulator: lookups and listings", () => {
  it("view.json finds a member by e-mail in any status and answers MEMBER_NOT_FOUND otherwise", async () => {
    await start();
    const found = await call("GET", `/subscribers/${NURTURE}/view.json`, { query: { Email: "Oliver@example.test" } });
    const missing = await call("GET", `/subscribers/${NURTURE}/view.json`, { query: { Email: "nobody@example.test" } });
    expect(found.body.Context).toMatchObject({ Email: "oliver@example.test", SubscribeType: 2 });
    expect(found.body.Context.UnsubscribedOn).toMatch(/^\/Date\(\d+\+0100\)\/$/);
    expect(missing.status).toBe(200);
    expect(missing.body).toEqual({ Code: 404, Error: "MEMBER_NOT_FOUND", Context: null });
  });

  it("find/{SubscriberID}.json finds a member by id within its list only", async () => {
    await start();
    const maria = sim.subscribers(NURTURE)[0]!;
    expect((await call("GET", `/subscribers/${NURTURE}/find/${maria.ID}.json`)).body.Context.Email).toBe("maria@example.test");
    expect((await call("GET", `/subscribers/${CUSTOMERS}/find/${maria.ID}.json`)).body.Error).toBe("MEMBER_NOT_FOUND");
  });

  it("pages a status listing by CreatedOn, newest member first, whenever each one entered the status", async () => {
    await start({ seed: true });
    for (const name of ["a", "b", "c", "d", "e"]) sim.addSubscriber(NEW_LEADS, { email: `${name}@example.test` });
    await sim.unsubscribe(NEW_LEADS, "d@example.test");
    await sim.unsubscribe(NEW_LEADS, "b@example.test");
    await sim.unsubscribe(NEW_LEADS, "e@example.test");
    const page1 = await call("GET", `/lists/${NEW_LEADS}/subscribers/Unsubscribed.json`, { query: { Page: "1", PageSize: "2" } });
    const page2 = await call("GET", `/lists/${NEW_LEADS}/subscribers/Unsubscribed.json`, { query: { Page: "2", PageSize: "2" } });
    expect(page1.body.Context.Paging).toEqual({
      PageSize: 2,
      CurrentPage: 1,
      TotalResults: 3,
      TotalPageCount: 2,
      SortExpression: "CreatedOn",
      SortIsAscending: false,
    });
    expect(page1.body.Context.Subscribers.map((m: { Email: string }) => m.Email)).toEqual(["e@example.test", "d@example.test"]);
    expect(page2.body.Context.Subscribers.map((m: { Email: string }) => m.Email)).toEqual(["b@example.test"]);
  });

  it("answers an empty page with TotalPageCount 0 for a status nobody is in", async () => {
    await start();
    const answer = await call("GET", `/lists/${NEW_LEADS}/subscribers/Bounced.json`);
    expect(answer.body.Context).toEqual({
      Paging: expect.objectContaining({ TotalResults: 0, TotalPageCount: 0, CurrentPage: 1 }),
      Subscribers: [],
    });
  });

  it("lists the seeded lists with Company and Budget defined", async () => {
    await start();
    const lists = await call("GET", "/lists/1/10.json");
    expect(lists.body.Context.MailingLists.map((l: { ID: string; Name: string }) => [l.ID, l.Name])).toEqual(
      SEED.moosend.lists.map((l) => [l.id, l.name]),
    );
    const details = await call("GET", `/lists/${CUSTOMERS}/details.json`);
    expect(details.body.Context.CustomFieldsDefinition.map((f: { Name: string }) => f.Name)).toEqual(["Company", "Budget"]);
    expect(details.body.Context).toMatchObject({ ActiveMemberCount: 1, BouncedMemberCount: 1 });
  });

  it("starts empty without the seed", async () => {
    await start({ seed: false });
    expect((await call("GET", "/lists.json")).body.Context.MailingLists).toEqual([]);
  });
});

describe("Moosend simulator: campaigns and their statistics", () => {
  it("lists sent campaigns with their lists, and per-recipient opens and clicks with TotalCount, 100 a page at most", async () => {
    await start();
    const campaign = sim.sendCampaign({ subject: "Autumn offer", listIds: [NURTURE] });
    for (let i = 0; i < 101; i++) sim.campaignActivity(campaign, `r${i}@example.test`, "Opened");
    sim.campaignActivity(campaign, "r0@example.test", "Opened");
    sim.campaignActivity(campaign, "r0@example.test", "LinkClicked");

    const listed = await call("GET", "/campaigns/1/500.json");
    expect(listed.body.Context.Paging).toMatchObject({ PageSize: 100, CurrentPage: 1, TotalResults: 1, TotalPageCount: 1 });
    expect(listed.body.Context.Campaigns).toEqual([
      expect.objectContaining({ ID: campaign, Subject: "Autumn offer", Status: 3, MailingLists: [expect.objectContaining({ MailingList: expect.objectContaining({ ID: NURTURE }) })] }),
    ]);
    const opened = await call("GET", `/campaigns/${campaign}/stats/Opened.json`, { query: { Page: "1", PageSize: "500" } });
    expect(opened.body.Context.Paging).toMatchObject({ PageSize: 100, TotalResults: 101, TotalPageCount: 2 });
    expect(opened.body.Context.Analytics[0]).toEqual({ Context: "r0@example.test", ContextName: "", TotalCount: 2, UniqueCount: 0, ContextDescription: null });
    const second = await call("GET", `/campaigns/${campaign}/stats/Opened.json`, { query: { Page: "2", PageSize: "100" } });
    expect(second.body.Context.Analytics).toHaveLength(1);
    const clicked = await call("GET", `/campaigns/${campaign}/stats/LinkClicked.json`);
    expect(clicked.body.Context.Analytics).toEqual([expect.objectContaining({ Context: "r0@example.test", TotalCount: 1 })]);
    const tomorrow = new Date(Date.now() + 86_400_000);
    const day = `${String(tomorrow.getUTCDate()).padStart(2, "0")}-${String(tomorrow.getUTCMonth() + 1).padStart(2, "0")}-${tomorrow.getUTCFullYear()}`;
    const later = await call("GET", `/campaigns/${campaign}/stats/Opened.json`, { query: { From: day } });
    expect(later.body.Context.Analytics).toEqual([]);
  });
});

describe("Moosend simulator: unsubscribe, remove, delete", () => {
  it("an account-wide unsubscribe unsubscribes the address on every list", async () => {
    await start();
    sim.addSubscriber(NEW_LEADS, { email: "sofia@example.test" });
    const answer = await call("POST", "/subscribers/unsubscribe.json", { body: { Email: "sofia@example.test" } });
    expect(answer.body).toEqual({ Code: 0, Error: null, Context: null });
    expect(sim.subscribers(NEW_LEADS)[0]!.Status).toBe("Unsubscribed");
    expect(sim.subscribers(CUSTOMERS).find((m) => m.Email === "sofia@example.test")!.Status).toBe("Unsubscribed");
  });

  it("a list unsubscribe leaves the address subscribed on other lists", async () => {
    await start();
    sim.addSubscriber(NEW_LEADS, { email: "sofia@example.test" });
    await call("POST", `/subscribers/${NEW_LEADS}/unsubscribe.json`, { body: { Email: "sofia@example.test" } });
    expect(sim.subscribers(NEW_LEADS)[0]!.Status).toBe("Unsubscribed");
    expect(sim.subscribers(NEW_LEADS)[0]!.UnsubscribedFromID).toBe(NEW_LEADS);
    expect(sim.subscribers(CUSTOMERS).find((m) => m.Email === "sofia@example.test")!.Status).toBe("Subscribed");
  });

  it("remove_many takes a comma-separated string and refuses an array", async () => {
    await start();
    const asArray = await call("POST", `/subscribers/${CUSTOMERS}/remove_many.json`, { body: { Emails: ["sofia@example.test"] } });
    expect(asArray.body.Error).toBe("VALIDATION_ERROR");
    const asString = await call("POST", `/subscribers/${CUSTOMERS}/remove_many.json`, {
      body: { Emails: "sofia@example.test,nobody@example.test" },
    });
    expect(asString.body.Context).toEqual({ EmailsIgnored: 1, EmailsProcessed: 1 });
    expect(sim.subscribers(CUSTOMERS).find((m) => m.Email === "sofia@example.test")!.Status).toBe("Removed");
  });

  it("delete_many takes an array and refuses a string; delete drops the member", async () => {
    await start();
    const asString = await call("POST", `/subscribers/${CUSTOMERS}/delete_many.json`, { body: { Emails: "sofia@example.test" } });
    expect(asString.body.Error).toBe("VALIDATION_ERROR");
    const asArray = await call("POST", `/subscribers/${CUSTOMERS}/delete_many.json`, { body: { Emails: ["sofia@example.test"] } });
    expect(asArray.body.Context).toEqual({ EmailsIgnored: 0, EmailsProcessed: 1 });
    const single = await call("POST", `/subscribers/${CUSTOMERS}/delete.json`, { body: { Email: "liam@example.test" } });
    expect(single.body.Code).toBe(0);
    expect(sim.subscribers(CUSTOMERS)).toEqual([]);
    const again = await call("POST", `/subscribers/${CUSTOMERS}/delete.json`, { body: { Email: "liam@example.test" } });
    expect(again.body.Error).toBe("MEMBER_NOT_FOUND");
  });
});

describe("Moosend simulator: rate limits and faults", () => {
  it("answers the 11th subscribe within 10 s with HTTP 200 and Code 429, and writes nothing for it", async () => {
    await start();
    const answers = [];
    for (let i = 0; i < 11; i++) answers.push(await subscribe(NEW_LEADS, { Email: `p${i}@example.test` }));
    expect(answers.slice(0, 10).every((a) => a.body.Code === 0)).toBe(true);
    expect(answers[10]!.status).toBe(200);
    expect(answers[10]!.body).toEqual({ Code: 429, Error: "RATE-LIMITING", Context: null });
    expect(sim.subscribers(NEW_LEADS)).toHaveLength(10);
  });

  it("counts each endpoint in its own window", async () => {
    await start({ limits: { subscribe: { max: 1, perMs: 60_000 }, subscribeMany: { max: 1, perMs: 60_000 } } });
    expect((await subscribe(NEW_LEADS, { Email: "a@example.test" })).body.Code).toBe(0);
    expect((await subscribe(NEW_LEADS, { Email: "b@example.test" })).body.Code).toBe(429);
    const many = await call("POST", `/subscribers/${NEW_LEADS}/subscribe_many.json`, { body: { Subscribers: [{ Email: "c@example.test" }] } });
    expect(many.body.Code).toBe(0);
    expect((await call("GET", `/subscribers/${NEW_LEADS}/view.json`, { query: { Email: "a@example.test" } })).body.Code).toBe(0);
  });

  it("frees a slot once the oldest request leaves the sliding window", async () => {
    let clock = 1_800_000_000_000;
    await start({ limits: { remove: { max: 1, perMs: 150 } }, now: () => clock });
    const remove = () => call("POST", `/subscribers/${CUSTOMERS}/remove.json`, { body: { Email: "sofia@example.test" } });
    expect((await remove()).body.Code).toBe(0);
    clock += 149;
    expect((await remove()).body.Code).toBe(429);
    clock += 1;
    expect((await remove()).body.Code).toBe(0);
  });

  it("uses rateLimitHttpStatus for the throttling answer", async () => {
    await start({ rateLimitHttpStatus: 429, limits: { unsubscribe: { max: 1, perMs: 60_000 } } });
    await call("POST", `/subscribers/${CUSTOMERS}/unsubscribe.json`, { body: { Email: "sofia@example.test" } });
    const throttled = await call("POST", `/subscribers/${CUSTOMERS}/unsubscribe.json`, { body: { Email: "sofia@example.test" } });
    expect(throttled.status).toBe(429);
    expect(throttled.body).toEqual({ Code: 429, Error: "RATE-LIMITING", Context: null });
  });

  it("injected rate limits and server errors use Moosend's answers", async () => {
    await start();
    sim.faults.rateLimitNext(1).failNext(1, 500).failNext(1, 503);
    const limited = await call("GET", "/lists.json");
    const failed = await call("GET", "/lists.json");
    const gateway = await call("GET", "/lists.json");
    const healthy = await call("GET", "/lists.json");
    expect([limited.status, limited.body]).toEqual([200, { Code: 429, Error: "RATE-LIMITING", Context: null }]);
    expect([failed.status, failed.body.Code]).toEqual([500, 500]);
    expect(gateway.status).toBe(503);
    expect(gateway.contentType).toContain("text/html");
    expect(healthy.body.Code).toBe(0);
  });
});

describe("Moosend simulator: automation webhooks", () => {
  let receiver: Server;
  let received: Array<{ body: string; contentType: string | undefined; url: string | undefined }>;

  beforeEach(async () => {
    received = [];
    receiver = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        received.push({ body, contentType: req.headers["content-type"], url: req.url });
        res.statusCode = 202;
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  const receiverUrl = () => `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/moosend/s3cret?access_key=k`;

  it("posts {Event:{ContactContext:{Id,Tags}}} when a person unsubscribes via an automation, and records the delivery", async () => {
    await start({ webhook: { url: receiverUrl() } });
    const sofia = sim.subscribers(CUSTOMERS).find((m) => m.Email === "sofia@example.test")!;
    const delivery = await sim.unsubscribe(CUSTOMERS, "sofia@example.test", { viaAutomation: true });
    expect(received).toEqual([
      {
        body: JSON.stringify({ Event: { ContactContext: { Id: sofia.ID, Tags: ["customer"] } } }),
        contentType: "application/json; charset=utf-8",
        url: "/webhooks/moosend/s3cret?access_key=k",
      },
    ]);
    expect(delivery).toMatchObject({ status: 202, trigger: "unsubscribed", subscriberId: sofia.ID, listId: CUSTOMERS });
    expect(sim.state.deliveries).toEqual([delivery]);
    expect(sim.subscribers(CUSTOMERS).find((m) => m.ID === sofia.ID)!.Status).toBe("Unsubscribed");
  });

  it("bounce sets SubscribeType 3 and, without viaAutomation, posts nothing", async () => {
    await start({ webhook: { url: receiverUrl() } });
    const delivery = await sim.bounce(NURTURE, "maria@example.test");
    expect(delivery).toBeUndefined();
    expect(received).toEqual([]);
    const bounced = await call("GET", `/lists/${NURTURE}/subscribers/Bounced.json`);
    expect(bounced.body.Context.Subscribers).toEqual([expect.objectContaining({ Email: "maria@example.test", SubscribeType: 3 })]);
  });

  it("records a delivery the receiver never answered as an error", async () => {
    await start();
    sim.setWebhookUrl("http://127.0.0.1:1/unreachable");
    const delivery = await sim.bounce(CUSTOMERS, "sofia@example.test", { viaAutomation: true });
    expect(delivery).toMatchObject({ status: "error", trigger: "bounced" });
    expect(delivery!.error).toEqual(expect.any(String));
  });
});
