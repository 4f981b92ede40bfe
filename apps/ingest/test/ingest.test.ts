import { gzipSync } from "node:zlib";
import { randomBytes, randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import request from "supertest";
import { Webhook } from "standardwebhooks";
import { createApp, createEnqueuer, createIngestMetrics } from "@funnelsync/ingest";
import { createRedisConnection, QUEUES } from "@funnelsync/jobs";
import { createLogger } from "@funnelsync/logger";
import { encodeKommoWebhook } from "@funnelsync/simulators";
import { TEST_REDIS_URL } from "../../../test/testEnv";

// The stage-change body exactly as Kommo puts it on the wire (vendor-apis.md §1.6).
const KOMMO_STATUS_WIRE =
  "leads%5Bstatus%5D%5B0%5D%5Bid%5D=15318175&leads%5Bstatus%5D%5B0%5D%5Bstatus_id%5D=67548619&leads%5Bstatus%5D%5B0%5D%5Bold_status_id%5D=67548607&leads%5Bstatus%5D%5B0%5D%5Bpipeline_id%5D=8572511&leads%5Bstatus%5D%5B0%5D%5Bprice%5D=1000&leads%5Bstatus%5D%5B0%5D%5Bresponsible_user_id%5D=11087123&leads%5Bstatus%5D%5B0%5D%5Bupdated_at%5D=1726572758&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bid%5D=1246489&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bname%5D=Select&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bvalues%5D%5B0%5D%5Bvalue%5D=2&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bvalues%5D%5B0%5D%5Benum%5D=908107&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B1%5D%5Bid%5D=1246491&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B1%5D%5Bname%5D=Date&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B1%5D%5Bvalues%5D%5B0%5D=1725915600&account%5Bsubdomain%5D=acme&account%5Bid%5D=32720107&account%5B_links%5D%5Bself%5D=https%3A%2F%2Facme.amocrm.com";
const STATUS_JOB_ID = "kommo-lead-15318175-status-8572511-67548619-1726572758";

const KOMMO_SECRET = randomBytes(16).toString("hex");
const MOOSEND_SECRET = randomBytes(16).toString("hex");
const LOOPS_SECRET = `whsec_${randomBytes(24).toString("base64")}`;

function silentLogger(lines: string[] = []) {
  const stream = new Writable({ write: (chunk, _e, done) => (lines.push(chunk.toString()), done()) });
  return createLogger({ service: "test", level: "debug", stream, secrets: [KOMMO_SECRET, MOOSEND_SECRET, LOOPS_SECRET] });
}

function ingestApp(redis: Redis, prefix: string, lines: string[] = []) {
  const enqueuer = createEnqueuer(redis, { prefix });
  const app = createApp({
    enqueuer,
    logger: silentLogger(lines),
    metrics: createIngestMetrics({ defaultMetrics: false }),
    secrets: { kommo: KOMMO_SECRET, moosend: MOOSEND_SECRET, loops: LOOPS_SECRET },
    isReady: async () => redis.status === "ready" && (await redis.ping().then(() => true, () => false)),
  });
  return { app, enqueuer };
}

describe("ingest", () => {
  let redis: Redis;
  let prefix: string;
  let queues: Record<"kommo" | "esp" | "ingest", Queue>;
  let app: ReturnType<typeof ingestApp>["app"];
  let enqueuer: ReturnType<typeof ingestApp>["enqueuer"];
  let lines: string[];

  beforeEach(async () => {
    prefix = `test-${randomUUID()}`;
    redis = createRedisConnection(TEST_REDIS_URL, "ingest");
    await new Promise((resolve) => redis.once("ready", resolve));
    lines = [];
    ({ app, enqueuer } = ingestApp(redis, prefix, lines));
    queues = {
      kommo: new Queue(QUEUES.kommo, { connection: redis, prefix }),
      esp: new Queue(QUEUES.esp, { connection: redis, prefix }),
      ingest: new Queue(QUEUES.ingest, { connection: redis, prefix }),
    };
  });
  afterEach(async () => {
    for (const queue of Object.values(queues)) {
      await queue.obliterate({ force: true });
      await queue.close();
    }
    await enqueuer.close();
    await redis.quit();
  });

  const jobsIn = async (queue: Queue) => queue.getJobs(["waiting", "delayed", "active", "completed", "failed"]);

  describe("POST /webhooks/kommo/:secret", () => {
    it("accepts Kommo's form-encoded stage change and enqueues one job with a deterministic id", async () => {
      const res = await request(app).post(`/webhooks/kommo/${KOMMO_SECRET}`).type("form").send(KOMMO_STATUS_WIRE);
      expect(res.status).toBe(200);
      const jobs = await jobsIn(queues.kommo);
      expect(jobs.map((j) => [j.id, j.name])).toEqual([[STATUS_JOB_ID, "kommo.leadStatusChanged"]]);
      expect(jobs[0]!.data).toEqual({ leadId: 15318175, pipelineId: 8572511, statusId: 67548619, oldStatusId: 67548607, updatedAt: 1726572758, accountId: 32720107, fingerprint: expect.any(String) });
    });

    it("processes the same move once when Kommo delivers it as a status and again as an update", async () => {
      const move = { id: "15318175", status_id: "67548619", old_status_id: "67548607", pipeline_id: "8572511", updated_at: "1726572758" };
      const account = { subdomain: "acme", id: "32720107" };
      await request(app).post(`/webhooks/kommo/${KOMMO_SECRET}`).type("form").send(encodeKommoWebhook({ leads: { status: [move] }, account })).expect(200);
      await request(app).post(`/webhooks/kommo/${KOMMO_SECRET}`).type("form").send(encodeKommoWebhook({ leads: { update: [move] }, account })).expect(200);
      await request(app).post(`/webhooks/kommo/${KOMMO_SECRET}`).type("form").send(KOMMO_STATUS_WIRE).expect(200);
      expect((await jobsIn(queues.kommo)).map((j) => j.id)).toEqual([STATUS_JOB_ID]);
    });

    it("splits a body with several changes into one job per change", async () => {
      const body = encodeKommoWebhook({
        leads: { add: [{ id: "30000101", status_id: "6001", pipeline_id: "5001" }, { id: "30000102", status_id: "6001", pipeline_id: "5001" }] },
        contacts: { update: [{ id: "20000101", updated_at: "1726572800", linked_leads_id: { "30000101": { ID: "30000101" } } }] },
        account: { id: "32720107" },
      });
      await request(app).post(`/webhooks/kommo/${KOMMO_SECRET}`).type("form").send(body).expect(200);
      const ids = (await jobsIn(queues.kommo)).map((j) => j.id).sort();
      expect(ids).toEqual([expect.stringMatching(/^kommo-contact-20000101-update-1726572800-[0-9a-f]{12}$/), "kommo-lead-30000101-added", "kommo-lead-30000102-added"]);
    });

    it("stores the webhooks accepted in one turn, and those accepted while that write is in flight, as one batch job each", async () => {
      const jobs = Array.from({ length: 60 }, (_, i) => ({
        name: "kommo.leadStatusChanged" as const,
        data: { leadId: 31000000 + i, pipelineId: 5001, statusId: 6002, oldStatusId: 6001, updatedAt: 1726572758, accountId: 32720107, fingerprint: `f${i}` },
      }));
      // 40 arrive in one turn and share the first write; 20 arrive while it is in flight and share the next.
      const first = jobs.slice(0, 40).map((job) => enqueuer.enqueue([job]));
      await new Promise((resolve) => setImmediate(resolve));
      const second = jobs.slice(40).map((job) => enqueuer.enqueue([job]));
      const results = await Promise.all([...first, ...second]);
      expect(results.every((r) => r.ok)).toBe(true);
      expect(await jobsIn(queues.kommo)).toHaveLength(0);
      const batches = (await jobsIn(queues.ingest)).map((batch) => (batch.data as { jobs: Array<{ data: { leadId: number } }> }).jobs.map((j) => j.data.leadId));
      expect(batches.map((carried) => carried.length).sort()).toEqual([20, 40]);
      expect(new Set(batches.flat()).size).toBe(60);
    });

    it("accepts JSON with the same structure", async () => {
      const body = { leads: { status: [{ id: "15318175", status_id: "67548619", pipeline_id: "8572511", updated_at: "1726572758" }] }, account: { id: "32720107" } };
      const accepted = await request(app).post(`/webhooks/kommo/${KOMMO_SECRET}`).send(body).expect(200);
      expect([accepted.headers["content-type"], accepted.body]).toEqual(["application/json; charset=utf-8", { status: "accepted", jobs: 1 }]);
      expect((await jobsIn(queues.kommo)).map((j) => j.id)).toEqual([STATUS_JOB_ID]);
      const broken = await request(app).post(`/webhooks/kommo/${KOMMO_SECRET}`).set("content-type", "application/json").send('{"leads": ');
      expect([broken.status, broken.body]).toEqual([400, { status: "malformed", error: "body is not valid JSON" }]);
      const gzipped = await request(app).post(`/webhooks/kommo/${KOMMO_SECRET}`).set({ "content-type": "application/json", "content-encoding": "gzip" }).send(gzipSync(JSON.stringify(body)));
      expect([gzipped.status, gzipped.body.error]).toEqual([415, 'unsupported content encoding "gzip"']);
      expect(await jobsIn(queues.kommo)).toHaveLength(1);
    });

    it("answers 404 and enqueues nothing for a wrong secret, and never logs the secret", async () => {
      await request(app).post("/webhooks/kommo/not-the-secret").type("form").send(KOMMO_STATUS_WIRE).expect(404);
      await request(app).post(`/webhooks/kommo/${KOMMO_SECRET}`).type("form").send(KOMMO_STATUS_WIRE).expect(200);
      expect(await jobsIn(queues.kommo)).toHaveLength(1);
      const answered = lines.map((line) => JSON.parse(line)).filter((line) => line.message === "ingest.request: answered");
      // Rejections show at the default level; accepted deliveries only at debug.
      expect(answered.map((line) => [line.status, line.level])).toEqual([[404, "info"], [200, "debug"]]);
      expect(answered.every((line) => line.route === "/webhooks/kommo/:secret")).toBe(true);
      expect(lines.join("")).not.toContain(KOMMO_SECRET);
    });

    it("acknowledges a Kommo delivery it does not act on (200 ignored, counted) and answers 400 for a body that is not Kommo's", async () => {
      const company = encodeKommoWebhook({ contacts: { add: [{ id: 52000001, name: "Acme", type: "company" }] }, account: { id: 32720107, subdomain: "acme" } });
      const task = encodeKommoWebhook({ task: { add: [{ id: 50000001, element_id: 15318175, element_type: 2, text: "Call" }] }, account: { id: 32720107 } });
      for (const body of [company, task, "account%5Bid%5D=32720107&foo=bar"]) {
        const res = await request(app).post(`/webhooks/kommo/${KOMMO_SECRET}`).type("form").send(body);
        expect([res.status, res.body]).toEqual([200, { status: "ignored" }]);
      }
      const foreign = await request(app).post(`/webhooks/kommo/${KOMMO_SECRET}`).type("form").send("foo=bar");
      expect([foreign.status, foreign.body.error]).toEqual([400, "not a Kommo webhook body"]);
      expect(await jobsIn(queues.kommo)).toHaveLength(0);
      const metrics = await request(app).get("/metrics").expect(200);
      expect(metrics.text).toContain('funnelsync_webhooks_total{source="kommo",outcome="ignored"} 3');
    });

    it("answers 413 for a body over 1 MB", async () => {
      const huge = `${KOMMO_STATUS_WIRE}&padding=${"x".repeat(1_100_000)}`;
      await request(app).post(`/webhooks/kommo/${KOMMO_SECRET}`).type("form").send(huge).expect(413);
      expect(await jobsIn(queues.kommo)).toHaveLength(0);
    });

    it("answers 503 and acknowledges nothing while Redis is unreachable", async () => {
      // Ingest's own kind of connection, cut off: it must fail at once rather than queue commands.
      const dead = createRedisConnection(TEST_REDIS_URL, "ingest");
      await new Promise((resolve) => dead.once("ready", resolve));
      const { app: deadApp, enqueuer: deadEnqueuer } = ingestApp(dead, prefix);
      dead.disconnect();
      const res = await request(deadApp).post(`/webhooks/kommo/${KOMMO_SECRET}`).type("form").send(KOMMO_STATUS_WIRE);
      expect(res.status).toBe(503);
      await request(deadApp).get("/readyz").expect(503);

      await deadEnqueuer.close();
      expect(await jobsIn(queues.kommo)).toHaveLength(0);
    });
  });

  describe("POST /webhooks/loops", () => {
    const signer = new Webhook(LOOPS_SECRET);
    const payload = { eventName: "contact.unsubscribed", eventTime: 1734425918, webhookSchemaVersion: "1.0.0", contactIdentity: { id: "cm4ittmhq0011ow9h6fb460yw", email: "test+1@loops.so", userId: null } };
    const signed = (body: string, id = "msg_loops_0001", at = new Date()) => ({
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": signer.sign(id, at, body),
    });

    it("enqueues a correctly signed event once, however often it is redelivered", async () => {
      const body = JSON.stringify(payload);
      await request(app).post("/webhooks/loops").set(signed(body)).send(body).expect(200);
      await request(app).post("/webhooks/loops").set(signed(body)).send(body).expect(200);
      const jobs = await jobsIn(queues.esp);
      expect(jobs.map((j) => j.id)).toEqual(["loops-msg_loops_0001"]);
      expect(jobs[0]!.data).toMatchObject({ eventName: "contact.unsubscribed", email: "test+1@loops.so", webhookId: "msg_loops_0001" });
    });

    it("answers 401 for a forged signature, a missing one and an expired timestamp", async () => {
      const body = JSON.stringify(payload);
      const forged = { ...signed(body), "webhook-signature": new Webhook(`whsec_${randomBytes(24).toString("base64")}`).sign("msg_loops_0001", new Date(), body) };
      await request(app).post("/webhooks/loops").set(forged).send(body).expect(401);
      await request(app).post("/webhooks/loops").set({ "content-type": "application/json" }).send(body).expect(401);
      const sixMinutesAgo = new Date(Date.now() - 6 * 60 * 1000);
      await request(app).post("/webhooks/loops").set(signed(body, "msg_old", sixMinutesAgo)).send(body).expect(401);
      expect(await jobsIn(queues.esp)).toHaveLength(0);
    });

    it("answers 400 for a correctly signed body that is not a Loops event", async () => {
      const body = "this is not json";
      await request(app).post("/webhooks/loops").set(signed(body, "msg_bad")).send(body).expect(400);
      expect(await jobsIn(queues.esp)).toHaveLength(0);
    });
  });

  describe("POST /webhooks/moosend/:secret", () => {
    const hook = { Event: { ContactContext: { Id: "f582c388-7916-4890-a9ab-b592615ef095", Tags: ["potential"] } } };

    it("enqueues the automation's webhook once per delivery body", async () => {
      await request(app).post(`/webhooks/moosend/${MOOSEND_SECRET}`).send(hook).expect(200);
      await request(app).post(`/webhooks/moosend/${MOOSEND_SECRET}`).send(hook).expect(200);
      const jobs = await jobsIn(queues.esp);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]!.data).toMatchObject({ subscriberId: "f582c388-7916-4890-a9ab-b592615ef095", tags: ["potential"] });
    });

    it("answers 404 for a wrong secret and 400 for a body without a subscriber", async () => {
      await request(app).post("/webhooks/moosend/wrong").send(hook).expect(404);
      await request(app).post(`/webhooks/moosend/${MOOSEND_SECRET}`).send({ Event: {} }).expect(400);
      expect(await jobsIn(queues.esp)).toHaveLength(0);
    });
  });

  describe("health and metrics", () => {
    it("reports ready while Redis answers, and counts webhooks by outcome", async () => {
      await request(app).get("/healthz").expect(200);
      await request(app).get("/readyz").expect(200);
      await request(app).post("/webhooks/kommo/wrong").type("form").send(KOMMO_STATUS_WIRE).expect(404);
      const metrics = await request(app).get("/metrics").expect(200);
      expect(metrics.text).toContain('funnelsync_webhooks_total{source="kommo",outcome="notFound"} 1');
    });
  });
});
