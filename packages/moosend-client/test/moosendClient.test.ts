import { inspect } from "node:util";
import { SEED, startMoosendSimulator, type MoosendSimulator, type MoosendSimulatorOptions } from "@funnelsync/simulators";
import { VendorError, VendorRateLimitError } from "@funnelsync/vendor-http";
import { MOOSEND_LIMITS, MoosendClient, ValidationError, type MoosendClientOptions } from "../src/index";

const [NEW_LEADS, NURTURE, CUSTOMERS] = SEED.moosend.lists.map((list) => list.id) as [string, string, string];
const API_KEY = "b4fe55f4-e53e-4651-8164-c6d6ff05081b";

let sim: MoosendSimulator;
let client: MoosendClient;

async function start(options: MoosendSimulatorOptions = {}, http: MoosendClientOptions["http"] = {}, apiKey = API_KEY) {
  sim = await startMoosendSimulator({ apiKey: API_KEY, ...options });
  client = new MoosendClient({ baseUrl: `${sim.url}/v3`, apiKey, http: { retryBaseDelayMs: 0, ...http } });
}

afterEach(() => sim?.close());

async function caught(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

const to = (path: string) => (r: { path: string }) => r.path === `/v3${path}`;
const ana = { email: "ana@example.test", name: "Ana Silva", customFields: { Company: "Acme", Budget: 5000 } };

describe("MoosendClient.subscribe", () => {
  beforeEach(() => start());

  it("sends every custom field as a \"Name=Value\" string, with HasExternalDoubleOptIn false", async () => {
    const subscriber = await client.subscribe(NEW_LEADS, ana);
    const [request] = sim.requests.filter(to(`/subscribers/${NEW_LEADS}/subscribe.json`));
    expect(request!.body).toEqual({
      Email: "ana@example.test",
      Name: "Ana Silva",
      CustomFields: ["Company=Acme", "Budget=5000"],
      HasExternalDoubleOptIn: false,
    });
    expect(subscriber).toEqual({
      id: sim.subscribers(NEW_LEADS)[0]!.ID,
      email: "ana@example.test",
      name: "Ana Silva",
      status: "subscribed",
      customFields: { Company: "Acme", Budget: "5000" },
      tags: [],
      createdOn: sim.subscribers(NEW_LEADS)[0]!.CreatedOn,
      updatedOn: sim.subscribers(NEW_LEADS)[0]!.UpdatedOn,
      unsubscribedOn: null,
    });
  });

  it("keeps the API key out of the request URL (it rides in axios params)", async () => {
    await client.subscribe(NEW_LEADS, ana);
    const [request] = sim.requests.entries;
    expect(request!.path).toBe(`/v3/subscribers/${NEW_LEADS}/subscribe.json`);
    expect(request!.query).toEqual({ apikey: API_KEY });
  });

  it("a later subscribe that leaves a field out clears it in Moosend, so callers must always send the full set", async () => {
    await client.subscribe(NEW_LEADS, ana);
    const partial = await client.subscribe(NEW_LEADS, { email: "ana@example.test", customFields: { Company: "Acme" } });
    expect(partial.customFields).toEqual({ Company: "Acme" });
    expect(sim.subscribers(NEW_LEADS)[0]!.CustomFields).toEqual({ Company: "Acme" });
  });

  it("sends null as an empty value, which clears the field on purpose", async () => {
    await client.subscribe(NEW_LEADS, ana);
    await client.subscribe(NEW_LEADS, { email: "ana@example.test", customFields: { Company: "Acme", Budget: null } });
    expect(sim.requests.filter(to(`/subscribers/${NEW_LEADS}/subscribe.json`))[1]!.body).toMatchObject({
      CustomFields: ["Company=Acme", "Budget="],
    });
    expect(sim.subscribers(NEW_LEADS)[0]!.CustomFields).toEqual({ Company: "Acme" });
  });

  it("re-subscribes someone who had unsubscribed: Moosend does not guard consent, so the caller must", async () => {
    const subscriber = await client.subscribe(NURTURE, { email: "oliver@example.test", customFields: {} });
    expect(subscriber.status).toBe("subscribed");
  });

  it("reads /Date(ms+0100)/ as UTC milliseconds, ignoring the offset", async () => {
    await sim.unsubscribe(CUSTOMERS, "sofia@example.test");
    const sofia = await client.findByEmail(CUSTOMERS, "sofia@example.test");
    const stored = sim.subscribers(CUSTOMERS).find((m) => m.Email === "sofia@example.test")!;
    expect(sofia!.unsubscribedOn).toEqual(stored.UnsubscribedOn);
    expect(sofia!.updatedOn).toEqual(stored.UpdatedOn);
  });

  it("turns a custom field the list does not define into a non-retryable VendorError naming VALIDATION_ERROR", async () => {
    const err = await caught(client.subscribe(NEW_LEADS, { email: "ana@example.test", customFields: { "Shoe size": 44 } }));
    expect(err).toBeInstanceOf(VendorError);
    expect(err).toMatchObject({ vendor: "moosend", status: 200, retryable: false });
    expect(err.message).toContain("VALIDATION_ERROR");
  });

  it("turns an unknown list into a non-retryable VendorError naming LIST_NOT_FOUND", async () => {
    const err = await caught(client.subscribe("0b6f5a1e-0000-4000-8000-00000000dead", ana));
    expect(err).toMatchObject({ name: "VendorError", retryable: false });
    expect(err.message).toContain("LIST_NOT_FOUND");
  });

  it("retries a 500 inline, since a subscribe is an e-mail keyed upsert", async () => {
    sim.faults.failNext(1, 500);
    await client.subscribe(NEW_LEADS, ana);
    expect(sim.requests.filter(to(`/subscribers/${NEW_LEADS}/subscribe.json`)).map((r) => r.status)).toEqual([500, 200]);
    expect(sim.subscribers(NEW_LEADS)).toHaveLength(1);
  });

  it("raises a ValidationError before any request for a bad list id or e-mail", async () => {
    await expect(client.subscribe("not-a-guid", ana)).rejects.toBeInstanceOf(ValidationError);
    await expect(client.subscribe(NEW_LEADS, { ...ana, email: "nope" })).rejects.toBeInstanceOf(ValidationError);
    await expect(client.subscribe(NEW_LEADS, { ...ana, customFields: { "A=B": "x" } })).rejects.toThrow(ValidationError);
    expect(sim.requests.count()).toBe(0);
  });
});

describe("MoosendClient against Moosend's errors and throttling", () => {
  it("turns HTTP 200 with {Code:429,Error:\"RATE-LIMITING\"} into a VendorRateLimitError for one window, without retrying inline", async () => {
    await start({ limits: { subscribe: { max: 1, perMs: 60_000 } } });
    await client.subscribe(NEW_LEADS, ana);
    const err = await caught(client.subscribe(NEW_LEADS, ana));
    expect(err).toBeInstanceOf(VendorRateLimitError);
    expect(err).toMatchObject({ vendor: "moosend", status: 200, retryable: true, retryAfterMs: 10_000 });
    expect(sim.requests.count(to(`/subscribers/${NEW_LEADS}/subscribe.json`))).toBe(2);
  });

  it("turns an HTTP 429 throttling answer into a VendorRateLimitError too", async () => {
    await start({ rateLimitHttpStatus: 429, limits: { unsubscribe: { max: 1, perMs: 60_000 } } });
    await client.unsubscribe(CUSTOMERS, "sofia@example.test");
    const err = await caught(client.unsubscribe(CUSTOMERS, "sofia@example.test"));
    expect(err).toBeInstanceOf(VendorRateLimitError);
    expect(err).toMatchObject({ status: 429, retryAfterMs: 10_000 });
    expect(sim.requests.count()).toBe(2);
  });

  it("treats an injected throttling answer on a read the same way", async () => {
    await start();
    sim.faults.rateLimitNext(1);
    await expect(client.findByEmail(CUSTOMERS, "sofia@example.test")).rejects.toBeInstanceOf(VendorRateLimitError);
  });

  it("gives a wrong API key as a non-retryable 401", async () => {
    await start({}, {}, "wrong-key");
    const err = await caught(client.getLists());
    expect(err).toMatchObject({ name: "VendorError", status: 401, retryable: false });
  });

  it("treats business errors answered with HTTP 400/404 the same way", async () => {
    await start({ errorsAsHttpStatus: true });
    const err = await caught(client.subscribe(NEW_LEADS, { ...ana, customFields: { Nope: 1 } }));
    expect(err).toMatchObject({ status: 400, retryable: false });
    expect(await client.findByEmail(NEW_LEADS, "nobody@example.test")).toBeNull();
    expect(await client.unsubscribe(NEW_LEADS, "nobody@example.test")).toBe(false);
  });

  it("never puts the API key in an error, whatever went wrong", async () => {
    await start({ limits: { subscribe: { max: 2, perMs: 60_000 } } }, { timeoutMs: 200, retries: 0 });
    const errors: unknown[] = [];
    errors.push(await caught(client.subscribe(NEW_LEADS, { ...ana, customFields: { Nope: 1 } }))); // 200 + VALIDATION_ERROR
    await client.subscribe(NEW_LEADS, ana);
    errors.push(await caught(client.subscribe(NEW_LEADS, ana))); // 200 + Code 429
    sim.faults.failNext(1, 500).failNext(1, 503).hangNext(1);
    errors.push(await caught(client.getLists())); // 500 envelope
    errors.push(await caught(client.getLists())); // 503 HTML page
    errors.push(await caught(client.getLists())); // timeout
    errors.push(await caught(new MoosendClient({ baseUrl: `${sim.url}/v3`, apiKey: "wrong-key-7f3a" }).getLists())); // 401
    await sim.close();
    errors.push(await caught(client.findByEmail(NEW_LEADS, "ana@example.test"))); // connection refused

    expect(errors.map((e) => (e as Error).name)).toEqual([
      "VendorError",
      "VendorRateLimitError",
      "VendorError",
      "VendorError",
      "VendorError",
      "VendorError",
      "VendorError",
    ]);
    for (const err of errors) {
      const everything = `${(err as Error).message}\n${(err as Error).stack}\n${inspect(err, { depth: 10 })}\n${JSON.stringify(err)}`;
      expect(everything).not.toContain(API_KEY);
      expect(everything).not.toContain("wrong-key-7f3a");
    }
  });
});

describe("MoosendClient lookups", () => {
  beforeEach(() => start());

  it("findByEmail answers null for MEMBER_NOT_FOUND and the member otherwise", async () => {
    expect(await client.findByEmail(NURTURE, "nobody@example.test")).toBeNull();
    expect(await client.findByEmail(NURTURE, "Oliver@example.test")).toMatchObject({
      email: "oliver@example.test",
      status: "unsubscribed",
      customFields: { Company: "Brown & Sons" },
      unsubscribedOn: expect.any(Date),
    });
    expect(sim.requests.filter(to(`/subscribers/${NURTURE}/view.json`)).map((r) => r.query.Email)).toEqual([
      "nobody@example.test",
      "Oliver@example.test",
    ]);
  });

  it("findById resolves an id from an automation webhook within its list, and null elsewhere", async () => {
    const liam = sim.subscribers(CUSTOMERS).find((m) => m.Email === "liam@example.test")!;
    expect(await client.findById(CUSTOMERS, liam.ID)).toMatchObject({ id: liam.ID, status: "bounced" });
    expect(await client.findById(NURTURE, liam.ID)).toBeNull();
  });

  it("listMembers pages through a status as Moosend sorts it: newest member of the list first", async () => {
    for (const name of ["a", "b", "c", "d", "e"]) sim.addSubscriber(NEW_LEADS, { email: `${name}@example.test` });
    for (const name of ["e", "c", "a", "b", "d"]) await sim.unsubscribe(NEW_LEADS, `${name}@example.test`);
    const pages = [];
    for (let page = 1; page <= 3; page++) pages.push(await client.listMembers(NEW_LEADS, "Unsubscribed", { page, pageSize: 2 }));
    expect(pages.map((p) => [p.page, p.totalPages, p.total])).toEqual([
      [1, 3, 5],
      [2, 3, 5],
      [3, 3, 5],
    ]);
    expect(pages.flatMap((p) => p.subscribers.map((s) => s.email))).toEqual(
      ["e", "d", "c", "b", "a"].map((name) => `${name}@example.test`),
    );
    expect(sim.requests.filter(to(`/lists/${NEW_LEADS}/subscribers/Unsubscribed.json`)).map((r) => r.query)).toContainEqual(
      expect.objectContaining({ Page: "3", PageSize: "2" }),
    );
  });

  it("listMembers answers an empty first page with totalPages 0", async () => {
    expect(await client.listMembers(NEW_LEADS, "Bounced", { page: 1, pageSize: 100 })).toEqual({
      subscribers: [],
      totalPages: 0,
      page: 1,
      total: 0,
    });
  });

  it("listMembers refuses a page size above 1000 before any request", async () => {
    await expect(client.listMembers(NEW_LEADS, "Subscribed", { page: 1, pageSize: 1001 })).rejects.toBeInstanceOf(ValidationError);
    expect(sim.requests.count()).toBe(0);
  });

  it("getLists pages through every list; getListCustomFields names the list's fields", async () => {
    expect(await client.getLists()).toEqual(SEED.moosend.lists.map((list) => ({ id: list.id, name: list.name })));
    expect(await client.getListCustomFields(NURTURE)).toEqual(["Company", "Budget"]);
  });
});

describe("MoosendClient writes", () => {
  beforeEach(() => start());

  it("removeMany sends the addresses as ONE comma-separated string", async () => {
    sim.addSubscriber(CUSTOMERS, { email: "ben@example.test" });
    const result = await client.removeMany(CUSTOMERS, ["sofia@example.test", "ben@example.test", "nobody@example.test"]);
    const [request] = sim.requests.filter(to(`/subscribers/${CUSTOMERS}/remove_many.json`));
    expect(request!.body).toEqual({ Emails: "sofia@example.test,ben@example.test,nobody@example.test" });
    expect(result).toEqual({ processed: 2, ignored: 1 });
    expect(sim.subscribers(CUSTOMERS).filter((m) => m.Status === "Removed").map((m) => m.Email)).toEqual([
      "sofia@example.test",
      "ben@example.test",
    ]);
  });

  it("unsubscribe leaves other lists alone and answers false for an address the list does not have", async () => {
    sim.addSubscriber(NEW_LEADS, { email: "sofia@example.test" });
    expect(await client.unsubscribe(NEW_LEADS, "sofia@example.test")).toBe(true);
    expect(await client.unsubscribe(NEW_LEADS, "nobody@example.test")).toBe(false);
    expect(sim.subscribers(NEW_LEADS)[0]!.Status).toBe("Unsubscribed");
    expect(sim.subscribers(CUSTOMERS).find((m) => m.Email === "sofia@example.test")!.Status).toBe("Subscribed");
  });

  it("remove marks the member Removed and delete drops it; both answer false once it is gone", async () => {
    expect(await client.remove(CUSTOMERS, "sofia@example.test")).toBe(true);
    expect(sim.subscribers(CUSTOMERS).find((m) => m.Email === "sofia@example.test")!.Status).toBe("Removed");
    expect(await client.delete(CUSTOMERS, "sofia@example.test")).toBe(true);
    expect(await client.delete(CUSTOMERS, "sofia@example.test")).toBe(false);
    expect(sim.subscribers(CUSTOMERS).map((m) => m.Email)).toEqual(["liam@example.test"]);
  });

  it("subscribeMany returns the subscribers and Moosend's note on the addresses it skipped", async () => {
    const result = await client.subscribeMany(NEW_LEADS, [
      ana,
      { email: "bad address", customFields: { Company: "X", Budget: null } },
      { email: "ben@example.test", customFields: { Company: "Beta", Budget: 10 } },
    ]);
    expect(result.subscribers.map((s) => s.email)).toEqual(["ana@example.test", "ben@example.test"]);
    expect(result.ignored).toBe("1 items with invalid email address were ignored: bad address");
  });

  it("subscribeMany refuses more than MOOSEND_MAX_BATCH subscribers before any request", async () => {
    const many = Array.from({ length: 1001 }, (_, i) => ({ email: `p${i}@example.test`, customFields: {} }));
    await expect(client.subscribeMany(NEW_LEADS, many)).rejects.toBeInstanceOf(ValidationError);
    expect(sim.requests.count()).toBe(0);
  });
});

describe("MoosendClient and the rate-limit gate", () => {
  it("asks the gate for each request's own limit", async () => {
    const keys: string[] = [];
    await start({}, { gate: async (_vendor, limitKey) => void keys.push(limitKey) });
    await client.subscribe(NEW_LEADS, ana);
    await client.findByEmail(NEW_LEADS, "ana@example.test");
    await client.removeMany(NEW_LEADS, ["ana@example.test"]);
    await client.unsubscribe(CUSTOMERS, "sofia@example.test");
    expect(keys).toEqual(["subscribe", "read", "removeMany", "unsubscribe"]);
    expect(keys.every((key) => key in MOOSEND_LIMITS)).toBe(true);
  });
});
