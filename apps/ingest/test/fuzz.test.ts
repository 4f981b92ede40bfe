import { gzipSync } from "node:zlib";
import { randomBytes, randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { createApp, createEnqueuer, createIngestMetrics } from "@funnelsync/ingest";
import { createRedisConnection, QUEUES } from "@funnelsync/jobs";
import { createLogger } from "@funnelsync/logger";
import { encodeKommoWebhook } from "@funnelsync/simulators";
import { Writable } from "node:stream";
import { TEST_REDIS_URL } from "../../../test/testEnv";

const SEED = 20261203;
const KOMMO_SECRET = randomBytes(16).toString("hex");
const MOOSEND_SECRET = randomBytes(16).toString("hex");
const LOOPS_SECRET = `whsec_${randomBytes(24).toString("base64")}`;

interface FuzzRequest {
  path: string;
  headers: Record<string, string>;
  body: string | Buffer;
}

const PROTOTYPE_KEYS = ["__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf"];
const KOMMO_KEYS = ["leads", "contacts", "account", "task", "unsorted", "companies", ...PROTOTYPE_KEYS];
const ACTIONS = ["add", "update", "status", "delete", "note", "restore", ...PROTOTYPE_KEYS];
const FIELDS = ["id", "status_id", "old_status_id", "pipeline_id", "updated_at", "type", "linked_leads_id", ...PROTOTYPE_KEYS];
/** Never a positive id, so no body below holds a change the worker would act on. */
const notAnId = fc.oneof(fc.constantFrom("0", "-1", "", "1e9", "0x10", "NaN", "١٢", " ", "9".repeat(20)), fc.string({ maxLength: 12 }).filter((s) => !/^\s*\d+\s*$/.test(s) || /^\s*0+\s*$/.test(s)));

const segment = fc.oneof(fc.constantFrom(...KOMMO_KEYS, ...ACTIONS, ...FIELDS, "0", "1", ""), fc.string({ maxLength: 6 }));
const formKey = fc.array(segment, { minLength: 1, maxLength: 8 }).map(([head, ...rest]) => `${head}${rest.map((s) => `[${s}]`).join("")}`);
const formBody = fc.array(fc.tuple(formKey, notAnId), { maxLength: 40 }).map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&"));

/** A Kommo-shaped JSON body whose ids are never valid. */
const kommoJson = fc
  .record({ entity: fc.constantFrom(...KOMMO_KEYS), action: fc.constantFrom(...ACTIONS), field: fc.constantFrom(...FIELDS), value: notAnId, extra: fc.jsonValue({ maxDepth: 3 }) })
  .map(({ entity, action, field, value, extra }) => `{"${entity}":{"${action}":[{"${field}":${JSON.stringify(value)},"x":${JSON.stringify(extra)}}]},"account":{"id":"1"}}`);

const deepJson = fc.integer({ min: 30, max: 50_000 }).map((depth) => `{"leads":{"add":[{"id":"0","x":${"[".repeat(depth)}${"]".repeat(depth)}}]}}`);
const wideJson = fc.integer({ min: 1, max: 40_000 }).map((n) => `{"leads":{"add":[${Array.from({ length: n }, () => '{"id":"0"}').join(",")}]}}`);
const wideForm = fc.integer({ min: 9_990, max: 10_010 }).map((n) => Array.from({ length: n }, (_, i) => `leads%5Badd%5D%5B${i}%5D%5Bid%5D=0`).join("&"));
const deepForm = fc.integer({ min: 30, max: 200 }).map((depth) => `leads${"%5Bx%5D".repeat(depth)}=1`);
const truncated = fc
  // status_id 0 comes first: however it is cut, what remains holds no valid change.
  .tuple(fc.constantFrom(encodeKommoWebhook({ leads: { status: [{ status_id: 0, id: 15318175, pipeline_id: 8572511 }] }, account: { id: 1 } }), '{"Event":{"ContactContext":{"Id":"f582c388-7916-4890-a9ab-b592615ef095","Tags":["a"]}}}'), fc.nat())
  .map(([text, cut]) => text.slice(0, cut % text.length)); // never the whole body
const anyText = fc.oneof(fc.string({ maxLength: 200 }), fc.fullUnicodeString({ maxLength: 200 }), fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString("latin1")));

const body = fc.oneof(
  { weight: 4, arbitrary: formBody },
  { weight: 3, arbitrary: kommoJson },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v) ?? "null") },
  { weight: 2, arbitrary: truncated },
  { weight: 2, arbitrary: anyText },
  { weight: 1, arbitrary: deepJson },
  { weight: 1, arbitrary: wideJson },
  { weight: 1, arbitrary: deepForm },
  { weight: 1, arbitrary: wideForm },
);
const contentType = fc.constantFrom(
  "application/x-www-form-urlencoded",
  "application/x-www-form-urlencoded; charset=UTF-8",
  "application/x-www-form-urlencodedX",
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "multipart/form-data; boundary=x",
  "",
  ";;;",
);
const route = fc.constantFrom(
  `/webhooks/kommo/${KOMMO_SECRET}`,
  `/webhooks/kommo/${KOMMO_SECRET}`,
  `/webhooks/kommo/${KOMMO_SECRET}/`,
  `/webhooks/kommo/not-the-secret`,
  `/webhooks/kommo/%E0%A4%A`,
  `/webhooks/moosend/${MOOSEND_SECRET}`,
  `/webhooks/moosend/x`,
  "/webhooks/loops",
);
const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({ path: route, type: contentType, body, gzip: fc.integer({ min: 0, max: 9 }).map((n) => n === 0), junkPath: fc.string({ maxLength: 20 }), unmatched: fc.integer({ min: 0, max: 19 }) })
  .map(({ path, type, body: text, gzip, junkPath, unmatched }) => ({
    path: unmatched === 0 ? `/${encodeURIComponent(junkPath)}/${randomUUID()}` : path,
    headers: { ...(type && { "content-type": type }), ...(gzip && { "content-encoding": "gzip" }) },
    body: gzip ? gzipSync(text) : text,
  }));

function heapAfterGc(): number {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
  return process.memoryUsage().heapUsed;
}

describe("ingest fuzzed (seeded) over the three routes", () => {
  let redis: Redis;
  let prefix: string;
  let server: Server;
  let base: string;
  let enqueuer: ReturnType<typeof createEnqueuer>;
  let queues: Queue[];

  beforeAll(async () => {
    prefix = `test-${randomUUID()}`;
    redis = createRedisConnection(TEST_REDIS_URL, "ingest");
    await new Promise((resolve) => redis.once("ready", resolve));
    enqueuer = createEnqueuer(redis, { prefix });
    const app = createApp({
      enqueuer,
      logger: createLogger({ service: "test", level: "info", stream: new Writable({ write: (_c, _e, done) => done() }), secrets: [KOMMO_SECRET, MOOSEND_SECRET, LOOPS_SECRET] }),
      metrics: createIngestMetrics({ defaultMetrics: false }),
      secrets: { kommo: KOMMO_SECRET, moosend: MOOSEND_SECRET, loops: LOOPS_SECRET },
      isReady: async () => true,
    });
    server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    queues = Object.values(QUEUES).map((name) => new Queue(name, { connection: redis, prefix }));
  });
  afterAll(async () => {
    for (const queue of queues) {
      await queue.obliterate({ force: true });
      await queue.close();
    }
    await enqueuer.close();
    await new Promise((resolve) => server.close(resolve));
    await redis.quit();
  });

  async function send(requests: FuzzRequest[]): Promise<Map<number, number>> {
    const statuses = new Map<number, number>();
    for (const r of requests) {
      const res = await fetch(`${base}${r.path}`, { method: "POST", headers: r.headers, body: r.body });
      const answer = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500 || res.status < 200) throw new Error(`${res.status} ${answer} for ${r.path} ${JSON.stringify(r.headers)} ${String(r.body).slice(0, 200)}`);
      if (res.status === 200 && JSON.parse(answer).status === "accepted") throw new Error(`accepted a body without a valid change: ${String(r.body).slice(0, 200)}`);
    }
    return statuses;
  }

  it("answers every body 2xx or 4xx, enqueues nothing, and leaves /metrics and the heap bounded", async () => {
    const [first, second] = [fc.sample(fuzzRequest, { seed: SEED, numRuns: 2_000 }), fc.sample(fuzzRequest, { seed: SEED + 1, numRuns: 1_000 })];
    const statuses = await send(first);
    await fetch(`${base}/metrics`); // its own series exists from the first scrape on
    const metricsAfterFirst = (await (await fetch(`${base}/metrics`)).text()).length;
    const heapAfterFirst = heapAfterGc();
    await send(second);
    const metricsAfterSecond = (await (await fetch(`${base}/metrics`)).text()).length;
    const heapAfterSecond = heapAfterGc();

    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([200, 400, 404, 413, 415]));
    const stored = await Promise.all(queues.map((q) => q.getJobCountByTypes("waiting", "delayed", "active", "completed", "failed")));
    expect(stored).toEqual(queues.map(() => 0));
    // A closed set of labels: the first 2,000 bodies met every series there is.
    expect(metricsAfterFirst).toBeLessThan(40_000);
    expect(Math.abs(metricsAfterSecond - metricsAfterFirst)).toBeLessThan(200); // the same series, other counts
    expect(heapAfterSecond - heapAfterFirst).toBeLessThan(16 * 1024 * 1024);
  }, 120_000);
});
