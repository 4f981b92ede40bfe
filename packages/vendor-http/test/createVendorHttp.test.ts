import express from "express";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { createVendorHttp, isVendorError, isVendorRateLimitError, retryDelayMs, VendorError, type VendorCallObservation } from "@funnelsync/vendor-http";

// A plain local HTTP server scripted per test: the code under test is ours, the server is the world.
let server: Server;
let baseURL: string;
let script: Array<(res: express.Response) => void> = [];
let hits: Array<{ method: string; path: string }> = [];

beforeAll(async () => {
  const app = express();
  app.use((req, res) => {
    hits.push({ method: req.method, path: req.path });
    const next = script.shift();
    if (next) next(res);
    else res.json({ ok: true });
  });
  server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
beforeEach(() => {
  script = [];
  hits = [];
});

const fail = (status: number, body: unknown = { detail: "boom" }) => (res: express.Response) => res.status(status).json(body);

describe("createVendorHttp", () => {
  it("retries a GET after a 500 and succeeds", async () => {
    script = [fail(500)];
    const http = createVendorHttp({ vendor: "kommo", baseURL, retryBaseDelayMs: 0 });
    await expect(http.get("/leads/1")).resolves.toMatchObject({ status: 200 });
    expect(hits).toHaveLength(2);
  });

  it("never retries a plain POST on a 500, and says the failure is retryable by the queue", async () => {
    script = [fail(500)];
    const http = createVendorHttp({ vendor: "kommo", baseURL, retryBaseDelayMs: 0 });
    const err = await http.post("/leads/notes", []).catch((e: unknown) => e);
    expect(hits).toHaveLength(1);
    expect(isVendorError(err)).toBe(true);
    expect(err).toMatchObject({ vendor: "kommo", status: 500, retryable: true, message: "kommo: POST /leads/notes answered 500: boom" });
  });

  it("retries a POST marked idempotent", async () => {
    script = [fail(503)];
    const http = createVendorHttp({ vendor: "loops", baseURL, retryBaseDelayMs: 0 });
    await http.post("/events/send", {}, { funnelsync: { idempotent: true } });
    expect(hits).toHaveLength(2);
  });

  it("turns a 429 into a rate-limit error with the Retry-After wait, without retrying inline", async () => {
    script = [(res) => res.status(429).set("Retry-After", "7").json({ message: "slow down" })];
    const http = createVendorHttp({ vendor: "loops", baseURL, retryBaseDelayMs: 0 });
    const err = await http.get("/contacts/find").catch((e: unknown) => e);
    expect(hits).toHaveLength(1);
    expect(isVendorRateLimitError(err)).toBe(true);
    expect(err).toMatchObject({ retryAfterMs: 7000, status: 429 });
  });

  it("reads a vendor's own wait hint from the body", async () => {
    script = [fail(429, { title: "Too Many Requests", retry_after: 3 })];
    const http = createVendorHttp({ vendor: "kommo", baseURL, retryAfterMsFrom: (r) => (r.data?.retry_after ?? 0) * 1000 });
    await expect(http.get("/leads")).rejects.toMatchObject({ name: "VendorRateLimitError", retryAfterMs: 3000 });
  });

  it("marks a 400 as not retryable", async () => {
    script = [fail(400, { message: "Invalid email address." })];
    const http = createVendorHttp({ vendor: "loops", baseURL });
    await expect(http.put("/contacts/update", {})).rejects.toMatchObject({ status: 400, retryable: false });
    expect(hits).toHaveLength(1);
  });

  it("retries a timeout with a fresh clock, then reports no status and retryable", async () => {
    script = [() => undefined, () => undefined, () => undefined];
    const http = createVendorHttp({ vendor: "moosend", baseURL, timeoutMs: 100, retryBaseDelayMs: 0 });
    const err = (await http.get("/lists.json").catch((e: unknown) => e)) as VendorError;
    expect(hits).toHaveLength(3);
    expect(err).toMatchObject({ status: undefined, retryable: true });
  });

  it("keeps query parameters, where API keys travel, out of error messages", async () => {
    script = [fail(401, { Error: "bad key" })];
    const http = createVendorHttp({ vendor: "moosend", baseURL, params: { apikey: "very-secret-key" } });
    const err = (await http.get("/lists.json?Page=1").catch((e: unknown) => e)) as VendorError;
    expect(err.message).toBe("moosend: GET /lists.json answered 401: bad key");
    expect(JSON.stringify(err)).not.toContain("very-secret-key");
  });

  it("passes every attempt through the gate and reports each call", async () => {
    script = [fail(502)];
    const gated: string[] = [];
    const seen: VendorCallObservation[] = [];
    const http = createVendorHttp({
      vendor: "kommo",
      baseURL,
      retryBaseDelayMs: 0,
      gate: async (vendor, key) => void gated.push(`${vendor}/${key}`),
      observe: (call) => seen.push(call),
    });
    await http.get("/leads", { funnelsync: { limitKey: "default" } });
    expect(gated).toEqual(["kommo/default", "kommo/default"]);
    expect(seen.map((c) => c.status)).toEqual([502, 200]);
  });

  it("lets an admitted first attempt use the slot taken ahead, releases it with the answer, and gates a retry", async () => {
    script = [fail(502)];
    const gated: string[] = [];
    const released: string[] = [];
    const http = createVendorHttp({
      vendor: "kommo",
      baseURL,
      retryBaseDelayMs: 0,
      gate: async (vendor, key) => {
        gated.push(`${vendor}/${key}`);
        return () => released.push("gate slot");
      },
    });
    await http.get("/leads", { funnelsync: { admitted: { release: () => released.push("admitted slot") } } });
    expect(gated).toEqual(["kommo/default"]); // the retry only
    await new Promise((resolve) => setImmediate(resolve));
    expect(released).toEqual(["admitted slot", "gate slot"]);
  });
});

describe("retryDelayMs", () => {
  it("grows fourfold with jitter around the base", () => {
    expect(retryDelayMs(1, 1000, () => 0.5)).toBe(1000);
    expect(retryDelayMs(2, 1000, () => 0.5)).toBe(4000);
    expect(retryDelayMs(3, 1000, () => 0)).toBe(8000);
  });
});
