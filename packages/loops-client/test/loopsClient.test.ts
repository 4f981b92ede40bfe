import { startLoopsSimulator, type LoopsSimulator, type LoopsSimulatorOptions } from "@funnelsync/simulators";
import { VendorError, VendorRateLimitError, isVendorError } from "@funnelsync/vendor-http";
import { LoopsClient, ValidationError, type LoopsClientOptions } from "../src/index";

let sim: LoopsSimulator;
let client: LoopsClient;

async function start(options: LoopsSimulatorOptions = {}, http: LoopsClientOptions["http"] = {}) {
  sim = await startLoopsSimulator({ rateLimit: { max: 1_000, perMs: 1_000 }, ...options });
  client = new LoopsClient({ baseUrl: `${sim.url}/api/v1`, apiKey: sim.apiKey, http: { retryBaseDelayMs: 0, ...http } });
}

afterEach(() => sim?.close());

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

const to = (path: string) => (r: { path: string }) => r.path === `/api/v1${path}`;

describe("LoopsClient against the Loops simulator", () => {
  beforeEach(() => start());

  it("names the team behind the API key, and a wrong key is a non-retryable 401", async () => {
    expect(await client.testApiKey()).toEqual({ teamName: "Acme" });
    const wrong = new LoopsClient({ baseUrl: `${sim.url}/api/v1`, apiKey: "nope", http: { retryBaseDelayMs: 0 } });
    const err = await caught(wrong.testApiKey());
    expect(err).toBeInstanceOf(VendorError);
    expect(err).toMatchObject({ vendor: "loops", status: 401, retryable: false });
  });

  it("upserts with updateContact: creates, then updates the same contact, sending custom properties top-level", async () => {
    const first = await client.updateContact({ email: "ana@example.test", firstName: "Ana", properties: { company: "Acme", budget: 1200 } });
    const second = await client.updateContact({ email: "ana@example.test", lastName: "Lima", properties: { budget: null } });
    expect(second).toEqual(first);
    expect(sim.contact("ana@example.test")).toMatchObject({ id: first.id, firstName: "Ana", lastName: "Lima", properties: { company: "Acme" } });
    expect(sim.requests.filter(to("/contacts/update"))[0]!.body).toEqual({
      email: "ana@example.test",
      firstName: "Ana",
      company: "Acme",
      budget: 1200,
    });
  });

  it("never sends `subscribed` unless given, so an opted-out contact stays opted out", async () => {
    sim.addContact({ email: "ana@example.test", subscribed: false });
    await client.updateContact({ email: "ana@example.test", firstName: "Ana" });
    expect(sim.requests.filter(to("/contacts/update"))[0]!.body).not.toHaveProperty("subscribed");
    expect(sim.contact("ana@example.test")!.subscribed).toBe(false);
    await client.updateContact({ email: "ana@example.test", subscribed: true });
    expect(sim.contact("ana@example.test")!.subscribed).toBe(true);
  });

  it("creates a contact, and creating it again is a non-retryable VendorError 409 sent once", async () => {
    const { id } = await client.createContact({ email: "ana@example.test" });
    expect(sim.contact("ana@example.test")!.id).toBe(id);
    const err = await caught(client.createContact({ email: "ana@example.test" }));
    expect(isVendorError(err)).toBe(true);
    expect(err).toMatchObject({ status: 409, retryable: false });
    expect(sim.requests.count(to("/contacts/create"))).toBe(2);
  });

  it("finds a contact with its custom properties, and null when Loops answers []", async () => {
    sim.addContact({ email: "ana@example.test", userId: "kommo-7", firstName: "Ana", properties: { company: "Acme" } });
    expect(await client.findContact({ userId: "kommo-7" })).toMatchObject({
      email: "ana@example.test",
      firstName: "Ana",
      lastName: null,
      subscribed: true,
      userId: "kommo-7",
      properties: { company: "Acme" },
    });
    expect(await client.findContact({ email: "nobody@example.test" })).toBeNull();
  });

  it("deletes a contact, and answers false for one Loops does not have (404)", async () => {
    sim.addContact({ email: "ana@example.test" });
    expect(await client.deleteContact({ email: "ana@example.test" })).toBe(true);
    expect(await client.deleteContact({ email: "ana@example.test" })).toBe(false);
    expect(sim.state.contacts.size).toBe(0);
  });

  it("sends an event once: the same idempotency key again is 'duplicate' and Loops holds one event", async () => {
    const event = { eventName: "deal_won", email: "ana@example.test", eventProperties: { pipeline: "Sales" } };
    expect(await client.sendEvent(event, "job-42-loops.event")).toBe("sent");
    expect(await client.sendEvent(event, "job-42-loops.event")).toBe("duplicate");
    expect(sim.state.events.filter((e) => e.eventName === "deal_won")).toHaveLength(1);
    expect(sim.requests.filter(to("/events/send")).map((r) => r.headers["idempotency-key"])).toEqual([
      "job-42-loops.event",
      "job-42-loops.event",
    ]);
  });

  it("retries a 500 on events/send inline because it carries an idempotency key, recording one event", async () => {
    sim.faults.only((_method, path) => path === "/api/v1/events/send").failNext(1, 500);
    expect(await client.sendEvent({ eventName: "deal_won", email: "ana@example.test" }, "k-500")).toBe("sent");
    expect(sim.requests.filter(to("/events/send")).map((r) => r.status)).toEqual([500, 200]);
    expect(sim.state.events).toHaveLength(1);
  });

  it("does not retry a 500 on contacts/create, which has no idempotency key", async () => {
    sim.faults.failNext(1, 500);
    const err = await caught(client.createContact({ email: "ana@example.test" }));
    expect(err).toMatchObject({ status: 500, retryable: true });
    expect(sim.requests.count(to("/contacts/create"))).toBe(1);
  });

  it("sends the welcome e-mail once per key", async () => {
    const message = { transactionalId: "cm_welcome_01", email: "ana@example.test", dataVariables: { firstName: "Ana", company: "Acme" } };
    expect(await client.sendTransactional(message, "job-42-loops.welcome")).toBe("sent");
    expect(await client.sendTransactional(message, "job-42-loops.welcome")).toBe("duplicate");
    expect(sim.state.transactionals.filter((t) => t.transactionalId === "cm_welcome_01")).toHaveLength(1);
  });

  it("lists every published transactional e-mail, following the cursor 50 at a time", async () => {
    for (let i = 1; i <= 60; i++) {
      sim.state.templates.set(`cm_t${i}`, { id: `cm_t${i}`, name: `T${i}`, subject: "s", lastUpdated: "2026-01-05T09:00:00.000Z", dataVariables: ["x"] });
    }
    const emails = await client.listTransactionalEmails();
    expect(emails).toHaveLength(61);
    expect(emails).toContainEqual({ id: "cm_welcome_01", name: "Welcome", dataVariables: ["firstName", "company"] });
    expect(emails).toContainEqual({ id: "cm_t60", name: "T60", dataVariables: ["x"] });
    expect(sim.requests.count((r) => r.path === "/api/v1/transactional-emails" && r.method === "GET")).toBe(2);
    expect(sim.requests.count((r) => r.path === "/api/v1/transactional" && r.method === "GET")).toBe(0);
  });

  it("leaves drafts out of the transactional e-mails it lists", async () => {
    sim.state.templates.set("cm_draft", { id: "cm_draft", name: "Draft", subject: "s", lastUpdated: "2026-01-05T09:00:00.000Z", dataVariables: ["x"], published: false });
    expect((await client.listTransactionalEmails()).map((e) => e.id)).toEqual(["cm_welcome_01"]);
  });

  it("lists transactional e-mails through the deprecated GET /transactional when the team has no content API (401)", async () => {
    await sim.close();
    await start({ contentApi: false });
    sim.state.templates.set("cm_draft", { id: "cm_draft", name: "Draft", subject: "s", lastUpdated: "2026-01-05T09:00:00.000Z", dataVariables: ["x"], published: false });
    expect(await client.listTransactionalEmails()).toEqual([{ id: "cm_welcome_01", name: "Welcome", dataVariables: ["firstName", "company"] }]);
    expect(sim.requests.count((r) => r.path === "/api/v1/transactional-emails" && r.status === 401)).toBe(1);
    expect(sim.requests.count((r) => r.path === "/api/v1/transactional" && r.method === "GET" && r.status === 200)).toBe(1);
  });

  it("fails a transactional e-mail missing a data variable with a non-retryable VendorError 400", async () => {
    const err = await caught(
      client.sendTransactional({ transactionalId: "cm_welcome_01", email: "ana@example.test", dataVariables: { firstName: "Ana" } }, "k-tx"),
    );
    expect(err).toBeInstanceOf(VendorError);
    expect(err).toMatchObject({ status: 400, retryable: false });
    expect((err as VendorError).message).toContain("Missing required data variable(s): company");
    expect(sim.requests.count(to("/transactional"))).toBe(1);
    expect(sim.state.transactionals).toHaveLength(0);
  });

  it("raises ValidationError before any request for bad arguments", async () => {
    const attempts = [
      () => client.updateContact({ email: "" }),
      () => client.updateContact({ email: "ana@example.test", properties: { subscribed: true } }),
      () => client.findContact({} as { email: string }),
      () => client.deleteContact({ email: "ana@example.test", userId: "u1" } as unknown as { email: string }),
      () => client.sendEvent({ eventName: "deal_won" }, "k"),
      () => client.sendEvent({ eventName: "deal_won", email: "ana@example.test" }, "k".repeat(101)),
      () => client.sendTransactional({ transactionalId: "cm_welcome_01", email: "ana@example.test" }, ""),
    ];
    for (const attempt of attempts) expect(await caught(attempt())).toBeInstanceOf(ValidationError);
    expect(sim.requests.count()).toBe(0);
  });
});

describe("LoopsClient rate limits", () => {
  it("turns Loops' 429 into a VendorRateLimitError of 1 s, without retrying inline", async () => {
    await start({ rateLimit: { max: 1, perMs: 1_000 } });
    await client.findContact({ email: "ana@example.test" });
    const err = await caught(client.sendEvent({ eventName: "deal_won", email: "ana@example.test" }, "k-429"));
    expect(err).toBeInstanceOf(VendorRateLimitError);
    expect(err).toMatchObject({ status: 429, retryAfterMs: 1_000, retryable: true });
    const limited = sim.requests.filter((r) => r.status === 429);
    expect(limited).toHaveLength(1);
    expect(sim.state.events).toHaveLength(0);
  });

  it("follows a Retry-After header when Loops sends one", async () => {
    await start({ rateLimit: { max: 1, perMs: 3_000 }, retryAfterHeader: true });
    await client.findContact({ email: "ana@example.test" });
    const err = await caught(client.findContact({ email: "ana@example.test" }));
    expect(err).toMatchObject({ name: "VendorRateLimitError", retryAfterMs: 3_000 });
  });

  it("asks the gate for the 'default' limit before every attempt", async () => {
    const gated: string[] = [];
    await start({}, { gate: async (vendor, limitKey) => void gated.push(`${vendor}:${limitKey}`) });
    sim.faults.failNext(1, 503);
    await client.updateContact({ email: "ana@example.test" });
    expect(gated).toEqual(["loops:default", "loops:default"]);
  });
});
