import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import {
  LOOPS_SIM_LISTS,
  LOOPS_SIM_WEBHOOK_SECRET,
  startLoopsSimulator,
  type LoopsSimulator,
  type LoopsSimulatorOptions,
} from "../src/loops/startLoopsSimulator";

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

let sim: LoopsSimulator;

async function start(options: LoopsSimulatorOptions = {}): Promise<LoopsSimulator> {
  sim = await startLoopsSimulator({ rateLimit: { max: 1_000, perMs: 1_000 }, ...options });
  return sim;
}

afterEach(async () => {
  await sim?.close();
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  options: { key?: string | null; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const key = options.key === undefined ? sim.apiKey : options.key;
  const response = await fetch(`${sim.url}/api/v1${path}`, {
    method,
    headers: {
      "content-type": "application/json",
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...options.headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** A webhook endpoint that keeps raw bodies and answers with `status`. */
async function startReceiver(status = 200) {
  const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.statusCode = receiver.status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const receiver = {
    status,
    received,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/loops`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return receiver;
}

function verify(delivery: { headers: IncomingHttpHeaders | Record<string, string>; body: string }) {
  return new Webhook(LOOPS_SIM_WEBHOOK_SECRET).verify(delivery.body, delivery.headers as Record<string, string>);
}

describe("Loops simulator: auth", () => {
  beforeEach(() => start());

  it("answers 401 with Loops' body for a wrong key and for no key", async () => {
    for (const key of ["wrong-key", null]) {
      const answer = await call("GET", "/api-key", undefined, { key });
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({ error: "Invalid API key" });
    }
    expect(sim.requests.entries.map((r) => [r.path, r.status])).toEqual([
      ["/api/v1/api-key", 401],
      ["/api/v1/api-key", 401],
    ]);
  });

  it("names the team for a valid key and sends the rate-limit headers", async () => {
    const answer = await call("GET", "/api-key");
    expect(answer).toMatchObject({ status: 200, body: { success: true, teamName: "Acme" } });
    expect(answer.headers.get("x-ratelimit-limit")).toBe("1000");
    expect(answer.headers.get("x-ratelimit-remaining")).toBe("999");
    expect(sim.requests.entries[0]).toMatchObject({ method: "GET", path: "/api/v1/api-key", status: 200 });
  });

  it("answers 405 for a known path with the wrong method (delete is a POST)", async () => {
    const answer = await call("DELETE", "/contacts/delete", { email: "a@example.test" });
    expect(answer.status).toBe(405);
  });
});

describe("Loops simulator: contacts", () => {
  beforeEach(() => start());

  it("creates a contact and answers 409 when the e-mail or the userId already exists (not an upsert)", async () => {
    const created = await call("POST", "/contacts/create", { email: "ana@example.test", userId: "u1", company: "Acme" });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({ success: true, id: expect.stringMatching(/^c[a-z0-9]{24}$/) });

    const sameEmail = await call("POST", "/contacts/create", { email: "ana@example.test", firstName: "Ana" });
    const sameUserId = await call("POST", "/contacts/create", { email: "other@example.test", userId: "u1" });
    for (const answer of [sameEmail, sameUserId]) {
      expect(answer.status).toBe(409);
      expect(answer.body).toEqual({ success: false, message: "Email or userId already exists." });
    }
    expect(sim.state.contacts.size).toBe(1);
    expect(sim.contact("ana@example.test")).toMatchObject({ firstName: null, properties: { company: "Acme" }, subscribed: true });
  });

  it("answers 400 'Invalid email address.' for a malformed e-mail", async () => {
    const answer = await call("POST", "/contacts/create", { email: "not-an-email" });
    expect(answer).toMatchObject({ status: 400, body: { success: false, message: "Invalid email address." } });
  });

  it("rejects a custom property that does not exist in the account, storing nothing", async () => {
    const answer = await call("PUT", "/contacts/update", { email: "ana@example.test", favouriteColour: "blue" });
    expect(answer.status).toBe(400);
    expect(answer.body.success).toBe(false);
    expect(answer.body.message).toContain("favouriteColour");
    expect(sim.state.contacts.size).toBe(0);
  });

  it("rejects strings longer than 500 characters and values of the wrong type", async () => {
    expect((await call("PUT", "/contacts/update", { email: "ana@example.test", company: "x".repeat(501) })).status).toBe(400);
    expect((await call("PUT", "/contacts/update", { email: "ana@example.test", budget: "12000" })).status).toBe(400);
    expect((await call("PUT", "/contacts/update", { email: "ana@example.test", company: "x".repeat(500), budget: 12000 })).status).toBe(200);
  });

  it("upserts on update: creates when nothing matches, then updates the same contact", async () => {
    const first = await call("PUT", "/contacts/update", { email: "ana@example.test", firstName: "Ana", budget: 100 });
    const second = await call("PUT", "/contacts/update", { email: "ana@example.test", lastName: "Lima", budget: null });
    expect(first.status).toBe(200);
    expect(second.body).toEqual({ success: true, id: first.body.id });
    expect(sim.contact("ana@example.test")).toMatchObject({ firstName: "Ana", lastName: "Lima", properties: {}, source: "API" });
  });

  it("keeps an unsubscribed contact unsubscribed unless `subscribed: true` is sent, which re-subscribes", async () => {
    sim.addContact({ email: "ana@example.test", subscribed: false });
    await call("PUT", "/contacts/update", { email: "ana@example.test", firstName: "Ana" });
    expect(sim.contact("ana@example.test")!.subscribed).toBe(false);
    await call("PUT", "/contacts/update", { email: "ana@example.test", subscribed: true });
    expect(sim.contact("ana@example.test")!.subscribed).toBe(true);
  });

  it("changes a contact's e-mail when update names it by userId", async () => {
    const { id } = sim.addContact({ email: "old@example.test", userId: "kommo-77" });
    const answer = await call("PUT", "/contacts/update", { email: "new@example.test", userId: "kommo-77" });
    expect(answer.body).toEqual({ success: true, id });
    expect(sim.contact("old@example.test")).toBeUndefined();
    expect(sim.contact("new@example.test")).toMatchObject({ id, userId: "kommo-77" });
  });

  it("sets the userId of the contact matched by e-mail", async () => {
    const { id } = sim.addContact({ email: "ana@example.test" });
    await call("PUT", "/contacts/update", { email: "ana@example.test", userId: "kommo-1" });
    expect(sim.contact("ana@example.test")).toMatchObject({ id, userId: "kommo-1" });
  });

  it("overwrites the userId of the contact matched by e-mail when update names both (Loops' own userId is lost)", async () => {
    const { id } = sim.addContact({ email: "ana@example.test", userId: "app-user-42" });
    const answer = await call("PUT", "/contacts/update", { email: "ana@example.test", userId: "20000001" });
    expect(answer.body).toEqual({ success: true, id });
    expect(sim.contact("ana@example.test")).toMatchObject({ id, userId: "20000001" });
    expect(sim.state.contacts.size).toBe(1);
  });

  it("finds by e-mail or userId, answers [] when none, and 400 unless exactly one is given", async () => {
    const { id } = sim.addContact({ email: "ana@example.test", userId: "u9", properties: { company: "Acme" }, mailingLists: { [LOOPS_SIM_LISTS[0]!.id]: true } });
    const byEmail = await call("GET", "/contacts/find?email=ana%40example.test");
    expect(byEmail.status).toBe(200);
    expect(byEmail.body).toEqual([
      {
        id,
        email: "ana@example.test",
        firstName: null,
        lastName: null,
        source: "API",
        subscribed: true,
        userGroup: "",
        userId: "u9",
        mailingLists: { [LOOPS_SIM_LISTS[0]!.id]: true },
        optInStatus: null,
        company: "Acme",
      },
    ]);
    expect((await call("GET", "/contacts/find?userId=u9")).body).toHaveLength(1);
    expect(await call("GET", "/contacts/find?email=nobody%40example.test")).toMatchObject({ status: 200, body: [] });
    expect((await call("GET", "/contacts/find?email=ana%40example.test&userId=u9")).status).toBe(400);
    expect((await call("GET", "/contacts/find")).status).toBe(400);
  });

  it("deletes with a POST, answers 404 for an unknown contact and 400 when both ids are given", async () => {
    sim.addContact({ email: "ana@example.test", userId: "u1" });
    expect(await call("POST", "/contacts/delete", { email: "nobody@example.test" })).toMatchObject({
      status: 404,
      body: { success: false, message: "Contact not found." },
    });
    expect((await call("POST", "/contacts/delete", { email: "ana@example.test", userId: "u1" })).status).toBe(400);
    expect(await call("POST", "/contacts/delete", { userId: "u1" })).toMatchObject({
      status: 200,
      body: { success: true, message: "Contact deleted." },
    });
    expect(sim.state.contacts.size).toBe(0);
  });

  it("lists mailing lists and contact properties", async () => {
    const lists = await call("GET", "/lists");
    expect(lists.body).toEqual(LOOPS_SIM_LISTS.map((l) => ({ ...l })));
    const custom = await call("GET", "/contacts/properties?list=custom");
    expect(custom.body).toEqual([
      { key: "company", label: "Company", type: "string" },
      { key: "budget", label: "Budget", type: "number" },
    ]);
    expect((await call("GET", "/contacts/properties")).body).toEqual(expect.arrayContaining([{ key: "firstName", label: "First Name", type: "string" }]));
  });
});

describe("Loops simulator: events", () => {
  beforeEach(() => start());

  it("creates the contact when none matches, writes top-level keys as properties and records the event", async () => {
    const answer = await call("POST", "/events/send", {
      eventName: "deal_won",
      email: "ana@example.test",
      company: "Acme",
      eventProperties: { pipeline: "Sales", amount: 1200 },
    });
    expect(answer).toMatchObject({ status: 200, body: { success: true } });
    const contact = sim.contact("ana@example.test")!;
    expect(contact.properties).toEqual({ company: "Acme" });
    expect(sim.state.events).toEqual([
      expect.objectContaining({
        eventName: "deal_won",
        contactId: contact.id,
        eventProperties: { pipeline: "Sales", amount: 1200 },
        contactProperties: { company: "Acme" },
        idempotencyKey: null,
      }),
    ]);
  });

  it("re-subscribes an opted-out contact when an event carries subscribed: true", async () => {
    sim.addContact({ email: "ana@example.test", subscribed: false });
    await call("POST", "/events/send", { eventName: "deal_won", email: "ana@example.test", subscribed: true });
    expect(sim.contact("ana@example.test")!.subscribed).toBe(true);
  });

  it("rejects an unknown top-level property without recording the event", async () => {
    const answer = await call("POST", "/events/send", { eventName: "deal_won", email: "ana@example.test", nope: 1 });
    expect(answer.status).toBe(400);
    expect(sim.state.events).toHaveLength(0);
    expect(sim.state.contacts.size).toBe(0);
  });

  it("answers 409 to any reuse of an Idempotency-Key, identical or not, and keeps one event", async () => {
    const body = { eventName: "deal_won", email: "ana@example.test" };
    const headers = { "Idempotency-Key": "job-1-loops.event" };
    expect((await call("POST", "/events/send", body, { headers })).status).toBe(200);
    for (const again of [body, { ...body, eventProperties: { x: 1 } }]) {
      expect(await call("POST", "/events/send", again, { headers })).toMatchObject({
        status: 409,
        body: { success: false, message: "Idempotency key already used with a different request body." },
      });
    }
    expect(sim.state.events).toHaveLength(1);
    expect(sim.state.events[0]!.idempotencyKey).toBe("job-1-loops.event");
  });

  it("replays the original answer to an identical request when identicalReplay is 'original'", async () => {
    await sim.close();
    await start({ identicalReplay: "original" });
    const body = { eventName: "deal_won", email: "ana@example.test" };
    const headers = { "Idempotency-Key": "k1" };
    await call("POST", "/events/send", body, { headers });
    expect(await call("POST", "/events/send", body, { headers })).toMatchObject({ status: 200, body: { success: true } });
    expect((await call("POST", "/events/send", { ...body, eventName: "other" }, { headers })).status).toBe(409);
    expect(sim.state.events).toHaveLength(1);
  });

  it("forgets a key after 24 hours", async () => {
    let clock = Date.parse("2026-01-01T00:00:00Z");
    await sim.close();
    await start({ now: () => clock });
    const send = () => call("POST", "/events/send", { eventName: "e", email: "ana@example.test" }, { headers: { "Idempotency-Key": "k" } });
    await send();
    clock += 24 * 60 * 60 * 1000 - 1;
    expect((await send()).status).toBe(409);
    clock += 1;
    expect((await send()).status).toBe(200);
  });

  it("answers 400 to an Idempotency-Key over 100 characters, and a failed request does not use up its key", async () => {
    const body = { eventName: "deal_won", email: "ana@example.test" };
    expect((await call("POST", "/events/send", body, { headers: { "Idempotency-Key": "k".repeat(101) } })).status).toBe(400);
    const headers = { "Idempotency-Key": "k".repeat(100) };
    expect((await call("POST", "/events/send", { eventName: "deal_won", email: "bad" }, { headers })).status).toBe(400);
    expect((await call("POST", "/events/send", body, { headers })).status).toBe(200);
  });
});

describe("Loops simulator: transactional", () => {
  beforeEach(() => start());

  it("answers 404 for an unknown transactionalId", async () => {
    const answer = await call("POST", "/transactional", { transactionalId: "nope", email: "ana@example.test" });
    expect(answer.status).toBe(404);
    expect(answer.body.success).toBe(false);
  });

  it("answers Loops' 400 naming the missing data variables", async () => {
    const answer = await call("POST", "/transactional", {
      transactionalId: "cm_welcome_01",
      email: "ana@example.test",
      dataVariables: { firstName: "Ana", company: "" },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      success: false,
      message: "Missing required data variable(s): company",
      error: { path: "dataVariables", message: "Missing required data variable(s): company" },
      transactionalId: "cm_welcome_01",
    });
    expect(sim.state.transactionals).toHaveLength(0);
  });

  it("lists the published transactional e-mails by cursor, 10 to 50 per page, without a success key", async () => {
    for (let i = 2; i <= 12; i++) {
      sim.state.templates.set(`cm_t${i}`, { id: `cm_t${i}`, name: `T${i}`, subject: "s", lastUpdated: "2026-01-05T09:00:00.000Z", dataVariables: [] });
    }
    const first = await call("GET", "/transactional?perPage=10");
    expect(first.status).toBe(200);
    expect(first.body.success).toBeUndefined();
    expect(first.body.pagination).toMatchObject({ totalResults: 12, returnedResults: 10, perPage: 10, totalPages: 2, nextCursor: expect.any(String) });
    expect(first.body.data[0]).toEqual({ id: "cm_welcome_01", name: "Welcome", lastUpdated: "2026-01-05T09:00:00.000Z", dataVariables: ["firstName", "company"] });
    const second = await call("GET", `/transactional?perPage=10&cursor=${first.body.pagination.nextCursor}`);
    expect(second.body.data.map((t: { id: string }) => t.id)).toEqual(["cm_t11", "cm_t12"]);
    expect(second.body.pagination).toMatchObject({ returnedResults: 2, nextCursor: null, nextPage: null });
    expect((await call("GET", "/transactional?perPage=5")).status).toBe(400);
    expect((await call("GET", "/transactional?perPage=51")).status).toBe(400);
    expect((await call("GET", "/transactional?cursor=nope")).status).toBe(400);
    expect((await call("PUT", "/transactional", {})).status).toBe(405);
  });

  it("lists every transactional e-mail, drafts too, on the current GET /transactional-emails, newest first", async () => {
    sim.state.templates.set("cm_draft", { id: "cm_draft", name: "Draft", subject: "s", lastUpdated: "2026-02-01T09:00:00.000Z", dataVariables: ["x"], published: false });
    const answer = await call("GET", "/transactional-emails");
    expect(answer.status).toBe(200);
    expect(answer.body.pagination).toMatchObject({ totalResults: 2, perPage: 20, nextCursor: null });
    expect(answer.body.data).toEqual([
      expect.objectContaining({ id: "cm_draft", publishedEmailMessageId: null, draftEmailMessageId: expect.any(String), dataVariables: [] }),
      expect.objectContaining({ id: "cm_welcome_01", name: "Welcome", publishedEmailMessageId: expect.any(String), dataVariables: ["firstName", "company"], createdAt: expect.any(String) }),
    ]);
    expect((await call("GET", "/transactional")).body.data.map((t: { id: string }) => t.id)).toEqual(["cm_welcome_01"]);
    expect(await call("POST", "/transactional", { transactionalId: "cm_draft", email: "ana@example.test", dataVariables: { x: "1" } })).toMatchObject({ status: 400 });
  });

  it("answers 401 on GET /transactional-emails for a team without the content API, while the deprecated route still lists", async () => {
    await sim.close();
    await start({ contentApi: false });
    expect(await call("GET", "/transactional-emails")).toMatchObject({ status: 401, body: { success: false } });
    expect((await call("GET", "/transactional")).status).toBe(200);
  });

  it("sends, records the message and adds the recipient to the audience only when asked", async () => {
    const message = { transactionalId: "cm_welcome_01", dataVariables: { firstName: "Ana", company: "Acme" } };
    expect(await call("POST", "/transactional", { ...message, email: "ana@example.test" })).toMatchObject({ status: 200, body: { success: true } });
    expect(sim.contact("ana@example.test")).toBeUndefined();
    await call("POST", "/transactional", { ...message, email: "bo@example.test", addToAudience: true }, { headers: { "Idempotency-Key": "t1" } });
    expect(sim.contact("bo@example.test")).toMatchObject({ subscribed: true });
    expect(sim.state.transactionals.map((t) => [t.email, t.idempotencyKey])).toEqual([
      ["ana@example.test", null],
      ["bo@example.test", "t1"],
    ]);
  });
});

describe("Loops simulator: rate limit and faults", () => {
  it("allows 10 requests in any second, then answers 429 with x-ratelimit headers and no Retry-After", async () => {
    let clock = 1_000_000;
    await start({ rateLimit: undefined, now: () => clock });
    const remaining: Array<string | null> = [];
    for (let i = 0; i < 10; i++) remaining.push((await call("GET", "/lists")).headers.get("x-ratelimit-remaining"));
    expect(remaining).toEqual(["9", "8", "7", "6", "5", "4", "3", "2", "1", "0"]);
    const limited = await call("GET", "/lists");
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ success: false, message: "Rate limit exceeded." });
    expect(limited.headers.get("x-ratelimit-limit")).toBe("10");
    expect(limited.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(limited.headers.get("retry-after")).toBeNull();
    clock += 999;
    expect((await call("GET", "/lists")).status).toBe(429);
    clock += 1;
    expect((await call("GET", "/lists")).status).toBe(200);
  });

  it("lists the API requests that came within a window of a 429 that named no wait", async () => {
    let clock = 1_000_000;
    await start({ now: () => clock });
    sim.faults.rateLimitNext(1);
    expect((await call("GET", "/lists")).status).toBe(429);
    clock += 500;
    await call("GET", "/lists");
    clock += 600;
    await call("GET", "/lists");
    expect(sim.ignoredWaits.map((w) => [w.path, w.earlyByMs])).toEqual([["/api/v1/lists", 500]]);
  });

  it("adds Retry-After when retryAfterHeader is set", async () => {
    await start({ rateLimit: { max: 1, perMs: 1_000 }, retryAfterHeader: true });
    await call("GET", "/lists");
    const limited = await call("GET", "/lists");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("1");
  });

  it("answers injected faults with Loops' envelopes", async () => {
    await start();
    sim.faults.rateLimitNext(1).failNext(1, 500);
    const limited = await call("POST", "/events/send", { eventName: "e", email: "ana@example.test" });
    expect(limited).toMatchObject({ status: 429, body: { success: false, message: "Rate limit exceeded." } });
    expect(limited.headers.get("x-ratelimit-remaining")).toBe("0");
    const failed = await call("POST", "/events/send", { eventName: "e", email: "ana@example.test" });
    expect(failed).toMatchObject({ status: 500, body: { success: false } });
    expect(sim.state.events).toHaveLength(0);
  });
});

describe("Loops simulator: webhooks", () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeEach(async () => {
    receiver = await startReceiver();
    await start({ webhookUrl: receiver.url });
  });
  afterEach(() => receiver.close());

  it("delivers email.hardBounced then contact.unsubscribed, signed, with different ids, and unsubscribes the contact", async () => {
    const contact = sim.addContact({ email: "ana@example.test" });
    const deliveries = await sim.hardBounce("ana@example.test");
    expect(deliveries.map((d) => [d.eventName, d.status])).toEqual([
      ["email.hardBounced", 200],
      ["contact.unsubscribed", 200],
    ]);
    expect(receiver.received).toHaveLength(2);
    const [bounce, unsubscribed] = receiver.received;
    expect(bounce!.headers["webhook-id"]).not.toEqual(unsubscribed!.headers["webhook-id"]);
    expect(verify(bounce!)).toEqual({
      eventName: "email.hardBounced",
      eventTime: expect.any(Number),
      webhookSchemaVersion: "1.0.0",
      sourceType: "campaign",
      campaignId: expect.any(String),
      email: { id: expect.any(String), emailMessageId: expect.any(String), subject: expect.any(String) },
      contactIdentity: { id: contact.id, email: "ana@example.test", userId: null },
    });
    expect(verify(unsubscribed!)).toEqual({
      eventName: "contact.unsubscribed",
      eventTime: expect.any(Number),
      webhookSchemaVersion: "1.0.0",
      contactIdentity: { id: contact.id, email: "ana@example.test", userId: null },
    });
    expect(sim.contact("ana@example.test")!.subscribed).toBe(false);
  });

  it("delivers only email.spamReported for a spam report, leaving the contact subscribed", async () => {
    sim.addContact({ email: "ana@example.test" });
    const deliveries = await sim.spamReport("ana@example.test", { sourceType: "transactional" });
    expect(deliveries).toHaveLength(1);
    expect(verify(receiver.received[0]!)).toMatchObject({ eventName: "email.spamReported", sourceType: "transactional", transactionalId: "cm_welcome_01" });
    expect(sim.contact("ana@example.test")!.subscribed).toBe(true);
  });

  it("delivers email.opened, email.clicked and email.delivered signed, repeating email.id for the same message, none for transactional opens", async () => {
    const contact = sim.addContact({ email: "ana@example.test" });
    const message = { emailId: "cm4t1sseg004tje7982991nan", subject: "Pricing", sourceType: "loop" as const, sourceId: "lp_1" };
    await sim.engage("ana@example.test", "opened", message);
    await sim.engage("ana@example.test", "clicked", message);
    await sim.engage("ana@example.test", "delivered", { sourceType: "transactional" });
    const [opened, clicked, delivered] = receiver.received.map(verify);
    expect(opened).toEqual({
      eventName: "email.opened",
      eventTime: expect.any(Number),
      webhookSchemaVersion: "1.0.0",
      sourceType: "loop",
      loopId: "lp_1",
      email: { id: message.emailId, emailMessageId: expect.any(String), subject: "Pricing" },
      contactIdentity: { id: contact.id, email: "ana@example.test", userId: null },
    });
    expect(clicked).toMatchObject({ eventName: "email.clicked", email: { id: message.emailId } });
    expect(delivered).toMatchObject({ eventName: "email.delivered", sourceType: "transactional", transactionalId: "cm_welcome_01" });
    await expect(sim.engage("ana@example.test", "opened", { sourceType: "transactional" })).rejects.toThrow(/transactional/);
  });

  it("delivers contact.mailingList.unsubscribed with the list, leaving other lists alone", async () => {
    const [newsletter, customers] = LOOPS_SIM_LISTS;
    sim.addContact({ email: "ana@example.test", mailingLists: { [newsletter!.id]: true, [customers!.id]: true } });
    await sim.unsubscribeFromList("ana@example.test", newsletter!.id);
    expect(verify(receiver.received[0]!)).toMatchObject({ eventName: "contact.mailingList.unsubscribed", mailingList: newsletter });
    expect(sim.contact("ana@example.test")!.mailingLists).toEqual({ [newsletter!.id]: false, [customers!.id]: true });
  });

  it("delivers email.resubscribed with Loops' marketing-email payload and re-subscribes the contact", async () => {
    const contact = sim.addContact({ email: "ana@example.test", subscribed: false });
    const deliveries = await sim.resubscribe("ana@example.test", { sourceType: "loop", sourceId: "loop_01" });
    expect(deliveries.map((d) => [d.eventName, d.status])).toEqual([["email.resubscribed", 200]]);
    expect(verify(receiver.received[0]!)).toEqual({
      eventName: "email.resubscribed",
      eventTime: expect.any(Number),
      webhookSchemaVersion: "1.0.0",
      sourceType: "loop",
      loopId: "loop_01",
      email: { id: expect.any(String), emailMessageId: expect.any(String), subject: expect.any(String) },
      contactIdentity: { id: contact.id, email: "ana@example.test", userId: null },
    });
    expect(sim.contact("ana@example.test")!.subscribed).toBe(true);
    await expect(sim.resubscribe("ana@example.test", { sourceType: "transactional" })).rejects.toThrow("no preference centre");
  });

  it("delivers contact.mailingList.subscribed with the list when a contact joins it", async () => {
    const [newsletter] = LOOPS_SIM_LISTS;
    sim.addContact({ email: "ana@example.test" });
    await sim.subscribeToList("ana@example.test", newsletter!.id);
    expect(verify(receiver.received[0]!)).toMatchObject({ eventName: "contact.mailingList.subscribed", mailingList: newsletter });
    expect(sim.contact("ana@example.test")!.mailingLists).toEqual({ [newsletter!.id]: true });
  });

  it("fires contact.deleted and contact.unsubscribed when a contact is deleted through the API", async () => {
    sim.addContact({ email: "ana@example.test" });
    await call("POST", "/contacts/delete", { email: "ana@example.test" });
    await sim.idle();
    expect(receiver.received.map((r) => (verify(r) as { eventName: string }).eventName)).toEqual(["contact.deleted", "contact.unsubscribed"]);
  });

  it("redelivers with the same webhook-id and body but a fresh timestamp and signature", async () => {
    await sim.close();
    let clock = Date.now() - 60_000;
    await start({ webhookUrl: receiver.url, now: () => clock });
    sim.addContact({ email: "ana@example.test" });
    const [original] = await sim.unsubscribe("ana@example.test");
    clock += 30_000;
    const again = await sim.redeliver(original!.webhookId);
    const [first, second] = receiver.received;
    expect(second!.headers["webhook-id"]).toBe(first!.headers["webhook-id"]);
    expect(second!.body).toBe(first!.body);
    expect(Number(second!.headers["webhook-timestamp"])).toBe(Number(first!.headers["webhook-timestamp"]) + 30);
    expect(second!.headers["webhook-signature"]).not.toBe(first!.headers["webhook-signature"]);
    expect(verify(second!)).toMatchObject({ eventName: "contact.unsubscribed" });
    expect(again.attempt).toBe(2);
  });

  it("records the receiver's status, and 'no-endpoint' while no URL is set", async () => {
    sim.addContact({ email: "ana@example.test" });
    receiver.status = 503;
    const [failed] = await sim.softBounce("ana@example.test");
    expect(failed!.status).toBe(503);
    sim.webhookUrl = undefined;
    const [unsent] = await sim.sendTestEvent();
    expect(unsent!.status).toBe("no-endpoint");
    expect(sim.state.deliveries.map((d) => d.eventName)).toEqual(["email.softBounced", "testing.testEvent"]);
  });

  it("crafts signed deliveries that a verifier rejects when expired or signed with another secret", () => {
    const payload = { eventName: "contact.unsubscribed", eventTime: 1, webhookSchemaVersion: "1.0.0" };
    const expired = sim.signedDelivery(payload, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect(() => verify(expired)).toThrow("Message timestamp too old");
    const forged = sim.signedDelivery(payload, { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" });
    expect(() => verify(forged)).toThrow("No matching signature found");
    const good = sim.signedDelivery(payload, { id: "msg_fixed" });
    expect(good.headers["webhook-id"]).toBe("msg_fixed");
    expect(verify(good)).toEqual(payload);
  });
});
