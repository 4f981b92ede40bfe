import { gzipSync } from "node:zlib";
import { randomBytes, randomUUID } from "node:crypto";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { Writable } from "node:stream";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import request from "supertest";
import { createApp, createEnqueuer, createIngestMetrics, type Enqueuer } from "@funnelsync/ingest";
import { createRedisConnection, QUEUES } from "@funnelsync/jobs";
import { parseKommoWebhook } from "@funnelsync/kommo-client/webhook";
import { createLogger } from "@funnelsync/logger";
import { encodeKommoWebhook } from "@funnelsync/simulators";
import { TEST_REDIS_URL } from "../../../test/testEnv";

const KOMMO_SECRET = randomBytes(16).toString("hex");
const MOOSEND_SECRET = randomBytes(16).toString("hex");
const LOOPS_SECRET = `whsec_${randomBytes(24).toString("base64")}`;
const ACCOUNT = { id: 32720107, subdomain: "acme" };
const MOOSEND_HOOK = { Event: { ContactContext: { Id: "f582c388-7916-4890-a9ab-b592615ef095", Tags: ["potential"] } } };

function ingestApp(redis: Redis, prefix: string, options: { lines?: string[]; answerDeadlineMs?: number; bodyTimeoutMs?: number; now?: () => Date; enqueuer?: Enqueuer } = {}) {
  const lines = options.lines ?? [];
  const stream = new Writable({ write: (chunk, _e, done) => (lines.push(chunk.toString()), done()) });
  const enqueuer = options.enqueuer ?? createEnqueuer(redis, { prefix });
  const app = createApp({
    enqueuer,
    logger: createLogger({ service: "test", level: "info", stream, secrets: [KOMMO_SECRET, MOOSEND_SECRET, LOOPS_SECRET] }),
    metrics: createIngestMetrics({ defaultMetrics: false }),
    secrets: { kommo: KOMMO_SECRET, moosend: MOOSEND_SECRET, loops: LOOPS_SECRET },
    isReady: async () => true,
    answerDeadlineMs: options.answerDeadlineMs,
    bodyTimeoutMs: options.bodyTimeoutMs,
    now: options.now,
  });
  return { app, enqueuer };
}

/** A TCP hop to Redis that can stop passing anything on: Redis hung mid-traffic, the connection still open. */
async function freezableRedisProxy(): Promise<{ url: string; freeze(): void; close(): Promise<void> }> {
  const target = new URL(TEST_REDIS_URL);
  const sockets = new Set<Socket>();
  let frozen = false;
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    client.on("data", (chunk) => void (frozen || upstream.write(chunk)));
    upstream.on("data", (chunk) => void (frozen || client.write(chunk)));
    const end = () => (client.destroy(), upstream.destroy());
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const db = target.pathname.length > 1 ? target.pathname : "";
  return {
    url: `redis://127.0.0.1:${port}${db}`,
    freeze: () => void (frozen = true),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("ingest under hostile input", () => {
  let redis: Redis;
  let prefix: string;
  let queues: Queue[];
  let lines: string[];
  let app: ReturnType<typeof ingestApp>["app"];
  let enqueuer: ReturnType<typeof ingestApp>["enqueuer"];

  beforeEach(async () => {
    prefix = `test-${randomUUID()}`;
    redis = createRedisConnection(TEST_REDIS_URL, "ingest");
    await new Promise((resolve) => redis.once("ready", resolve));
    lines = [];
    ({ app, enqueuer } = ingestApp(redis, prefix, { lines }));
    queues = Object.values(QUEUES).map((name) => new Queue(name, { connection: redis, prefix }));
  });
  afterEach(async () => {
    for (const queue of queues) {
      await queue.obliterate({ force: true });
      await queue.close();
    }
    await enqueuer.close();
    await redis.quit();
  });

  const jobCount = async () => (await Promise.all(queues.map((q) => q.getJobCountByTypes("waiting", "delayed", "active", "completed", "failed")))).reduce((a, b) => a + b, 0);
  const kommoOf = (target: typeof app) => request(target).post(`/webhooks/kommo/${KOMMO_SECRET}`);
  const kommo = () => kommoOf(app);

  it("1. caps a JSON body's changes as the form's parameters are capped: 413 naming the limit, nothing enqueued", async () => {
    const leads = Array.from({ length: 12_000 }, (_, i) => ({ id: 1_000_000 + i }));
    const body = JSON.stringify({ leads: { add: leads }, account: ACCOUNT });
    expect(body.length).toBeLessThan(1_000_000);
    const res = await kommo().set("content-type", "application/json").send(body);
    expect([res.status, res.body]).toEqual([413, { status: "tooLarge", error: "more than 10000 values" }]);
    expect(await jobCount()).toBe(0);
    // At the limit, a delivery is stored as one batch job (one Redis write) rather than holding ingest's event loop for each job.
    const atLimit = Array.from({ length: 10_000 }, (_, i) => `leads%5Badd%5D%5B${i}%5D%5Bid%5D=${1_000_000 + i}`).join("&");
    const accepted = await kommo().type("form").send(atLimit);
    expect([accepted.status, accepted.body]).toEqual([200, { status: "accepted", jobs: 10_000 }]);
    const [kommoQueue, , batches] = queues;
    expect([await kommoQueue!.getWaitingCount(), await batches!.getWaitingCount()]).toEqual([0, 1]);
  }, 60_000);

  it("2. labels metrics with route patterns or `unmatched`: no random path, and never a secret", async () => {
    for (let i = 0; i < 50; i++) await request(app).get(`/random-${randomUUID()}`).expect(404);
    await request(app).post(`/webhooks/kommo/${KOMMO_SECRET}/`).type("form").send("a=1");
    await request(app).post(`/webhooks/kommo/${KOMMO_SECRET}/extra`).type("form").send("a=1").expect(404);
    await request(app).post(`/webhooks/moosend/${MOOSEND_SECRET}/`).send(MOOSEND_HOOK);
    await request(app).post(`/webhooks/moosend/${MOOSEND_SECRET}/extra`).send(MOOSEND_HOOK).expect(404);
    const metrics = await request(app).get("/metrics").expect(200);
    expect(metrics.text).not.toContain(KOMMO_SECRET);
    expect(metrics.text).not.toContain(MOOSEND_SECRET);
    expect(metrics.text).not.toContain("random-");
    expect(metrics.text).toContain('route="unmatched"');
    expect(lines.join("")).not.toMatch(new RegExp(`${KOMMO_SECRET}|${MOOSEND_SECRET}`));
  });

  it("3. answers 413, not 500, for JSON nested deeper than the form's limit, on the Kommo and Moosend routes", async () => {
    const deep = `{"leads":{"add":[{"id":"7","x":${"[".repeat(20_000)}${"]".repeat(20_000)}}]},"account":{"id":"1"}}`;
    const viaKommo = await kommo().set("content-type", "application/json").send(deep);
    expect([viaKommo.status, viaKommo.body.error]).toEqual([413, "nested deeper than 32 levels"]);
    const moosendDeep = `{"Event":{"ContactContext":{"Id":"f582c388-7916-4890-a9ab-b592615ef095","Tags":${"[".repeat(20_000)}${"]".repeat(20_000)}}}}`;
    const viaMoosend = await request(app).post(`/webhooks/moosend/${MOOSEND_SECRET}`).set("content-type", "application/json").send(moosendDeep);
    expect([viaMoosend.status, viaMoosend.body.error]).toEqual([413, "nested deeper than 32 levels"]);
    expect(await jobCount()).toBe(0);
    // Brackets, commas and escaped quotes inside strings are text, not structure.
    const textual = JSON.stringify({ leads: { add: [{ id: "15318175", name: `\\"${"[{,".repeat(20_000)}` }] }, account: { id: "1" } });
    const read = await kommo().set("content-type", "application/json").send(textual);
    expect([read.status, read.body]).toEqual([200, { status: "accepted", jobs: 1 }]);
  });

  it("4. settles a request at its own deadline even while it waits behind a Redis write that hangs", async () => {
    const proxy = await freezableRedisProxy();
    const hung = createRedisConnection(proxy.url, "ingest");
    hung.on("error", () => undefined);
    await new Promise((resolve) => hung.once("ready", resolve));
    const hungEnqueuer = createEnqueuer(hung, { prefix });
    try {
      proxy.freeze();
      const job = (leadId: number) => ({ name: "kommo.leadAdded" as const, data: { leadId, pipelineId: 1, statusId: 2, oldStatusId: null, updatedAt: 1, accountId: 1, fingerprint: "f" } });
      const first = hungEnqueuer.enqueue([job(1)]);
      await new Promise((resolve) => setImmediate(resolve)); // its write is now in flight, and stuck
      const second = hungEnqueuer.enqueue([job(2)], performance.now()); // its deadline is now
      const settledFirst = await Promise.race([second.then((result) => ({ second: result })), first.then(() => "the stuck write settled first")]);
      expect(settledFirst).toEqual({ second: { ok: false, reason: "not stored before the answer deadline" } });
      await first;

      // Through HTTP: two webhooks behind a stuck write are both answered 503 at their own deadline, before that write gives up.
      const { app: hungApp } = ingestApp(hung, prefix, { answerDeadlineMs: 100, enqueuer: hungEnqueuer });
      const stuck = hungEnqueuer.enqueue([job(3)]).then(() => "the stuck write settled first");
      await new Promise((resolve) => setImmediate(resolve));
      const form = encodeKommoWebhook({ leads: { add: [{ id: 4 }, { id: 5 }] }, account: ACCOUNT });
      const answers = Promise.all([kommoOf(hungApp).type("form").send(form), kommoOf(hungApp).type("form").send(form)]).then((all) => all.map((r) => [r.status, r.body.status]));
      expect(await Promise.race([answers, stuck])).toEqual([[503, "unavailable"], [503, "unavailable"]]);
      await stuck;
    } finally {
      await hungEnqueuer.close();
      hung.disconnect();
      await proxy.close();
    }
  });

  it("5. refuses in ingest what the worker's schema refuses (status_id 0): nothing enqueued, the delivery acknowledged as ignored", async () => {
    for (const field of ["status_id", "old_status_id"]) {
      const body = encodeKommoWebhook({ leads: { status: [{ id: 15318175, status_id: field === "status_id" ? 0 : 67548619, old_status_id: field === "old_status_id" ? 0 : 67548607, pipeline_id: 8572511 }] }, account: ACCOUNT });
      const res = await kommo().type("form").send(body);
      expect([field, res.status, res.body]).toEqual([field, 200, { status: "ignored" }]);
    }
    expect(await jobCount()).toBe(0);
  });

  it("6. looks up only a body's own keys: prototype names as actions yield no change", async () => {
    const forms = ["toString", "valueOf", "hasOwnProperty", "constructor"].map((name) => `leads%5B${name}%5D%5B0%5D%5Bid%5D=5&account%5Bid%5D=1`);
    for (const form of forms) {
      const res = await kommo().type("form").send(form);
      expect([form, res.status, res.body]).toEqual([form, 200, { status: "ignored" }]);
    }
    const json = '{"leads":{"__proto__":[{"id":"5"}],"toString":[{"id":"6"}]},"account":{"id":"1"}}';
    expect(parseKommoWebhook(JSON.parse(json))).toEqual([]);
    const viaJson = await kommo().set("content-type", "application/json").send(json);
    expect([viaJson.status, viaJson.body]).toEqual([200, { status: "ignored" }]);
    expect(await jobCount()).toBe(0);
  });

  it("7. matches the content type exactly (charset allowed) and refuses compressed bodies on every route", async () => {
    const form = encodeKommoWebhook({ leads: { add: [{ id: 15318175, status_id: 67548619, pipeline_id: 8572511 }] }, account: ACCOUNT });
    const lookalike = await kommo().set("content-type", "application/x-www-form-urlencodedX").send(form);
    expect([lookalike.status, lookalike.body.status]).toEqual([415, "unsupportedMediaType"]);
    await kommo().set("content-type", "text/plain").send(form).expect(415);
    await kommo().set("content-type", "application/x-www-form-urlencoded; charset=UTF-8").send(form).expect(200);
    const gzippedMoosend = await request(app).post(`/webhooks/moosend/${MOOSEND_SECRET}`).set({ "content-type": "application/json", "content-encoding": "gzip" }).send(gzipSync(JSON.stringify(MOOSEND_HOOK)));
    expect([gzippedMoosend.status, gzippedMoosend.body.error]).toEqual([415, 'unsupported content encoding "gzip"']);
    await request(app).post("/webhooks/loops").set({ "content-type": "application/json", "content-encoding": "gzip" }).send(gzipSync("{}")).expect(415);
    expect(await jobCount()).toBe(1);
  });

  it("8. counts refused deliveries by reason, and rate-limits their log lines with the rest counted", async () => {
    await enqueuer.close();
    ({ app, enqueuer } = ingestApp(redis, prefix, { lines, now: () => new Date("2026-12-03T12:00:00Z") })); // one rate-limit window throughout
    await kommo().type("form").send(`a=${"x".repeat(1_100_000)}`).expect(413);
    await kommo().set("content-type", "text/plain").send("x").expect(415);
    await kommo().set("content-type", "application/json").send('{"leads":').expect(400);
    await request(app).post(`/webhooks/moosend/${MOOSEND_SECRET}`).set("content-type", "application/json").send("{").expect(400);
    for (let i = 0; i < 100; i++) await request(app).post("/webhooks/kommo/wrong").type("form").send("a=1").expect(404);
    const metrics = (await request(app).get("/metrics").expect(200)).text;
    expect(metrics).toContain('funnelsync_webhooks_total{source="kommo",outcome="tooLarge"} 1');
    expect(metrics).toContain('funnelsync_webhooks_total{source="kommo",outcome="unsupportedMediaType"} 1');
    expect(metrics).toContain('funnelsync_webhooks_total{source="kommo",outcome="malformed"} 1');
    expect(metrics).toContain('funnelsync_webhooks_total{source="moosend",outcome="malformed"} 1');
    const answered = lines.filter((line) => line.includes("ingest.request: answered")).length;
    expect(answered).toBe(60);
    expect(metrics).toContain(`funnelsync_ingest_rejection_logs_suppressed_total ${104 - 60}`);
  });

  it("drops a body that trickles in past the body timeout with a 408, long before Node's 300 s", async () => {
    const slow = ingestApp(redis, prefix, { bodyTimeoutMs: 200 });
    const server = slow.app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const socket = connect(port, "127.0.0.1");
      const answer = new Promise<string>((resolve) => {
        let text = "";
        socket.on("data", (chunk) => (text += chunk.toString()));
        socket.on("close", () => resolve(text));
      });
      socket.write(`POST /webhooks/kommo/${KOMMO_SECRET} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nleads`);
      const text = await answer;
      expect(text).toMatch(/^HTTP\/1\.1 408/);
      expect(text).toContain('"error":"body not received within 0.2 s"');
      expect(await jobCount()).toBe(0);
    } finally {
      await slow.enqueuer.close();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 10_000);
});
