import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { loadConfig, type Config } from "@funnelsync/config";
import { startIngest, type RunningIngest } from "@funnelsync/ingest";
import { createLogger } from "@funnelsync/logger";
import { startKommoSimulator, startLoopsSimulator, startMoosendSimulator, type KommoSimulator, type KommoSimulatorOptions, type LoopsSimulator, type MoosendSimulator } from "@funnelsync/simulators";
import { FUNNELSYNC_WEBHOOK_SETTINGS } from "@funnelsync/kommo-client";
import { startWorker, type RunningWorker, type StartWorkerOptions } from "@funnelsync/worker";
import { TEST_DATABASE_URL, TEST_HASH_KEY, TEST_REDIS_URL } from "./testEnv";

export const REPO_ROOT = resolve(__dirname, "..");
export const LISTS = {
  newLead: "0b6f5a1e-0000-4000-8000-000000000001",
  nurture: "0b6f5a1e-0000-4000-8000-000000000002",
  customers: "0b6f5a1e-0000-4000-8000-000000000003",
} as const;

/** The repository's mapping without Loops: keeps a test about Kommo and Moosend calls. */
export function moosendOnlyMapping(): string {
  const yaml = readFileSync(resolve(REPO_ROOT, "funnelsync.yaml"), "utf8")
    .replace(/\n\s*loops: \{[^}]*\}/g, "")
    .replace(/\n\s*loops: company/g, "")
    .replace(/\n\s*loops: budget/g, "")
    .replace(/\nloops:\n\s*onLeadAdded: \{ event: lead_created \}\n/, "\n");
  const path = join(mkdtempSync(join(tmpdir(), "fs-map-")), "moosend-only.yaml");
  writeFileSync(path, yaml);
  return path;
}

/** Ids that no other test in this run (or an earlier run) will use: outcome rows are keyed by them. */
export function uniqueId(): number {
  return randomInt(10_000_000, 99_999_999);
}
export function uniqueEmail(name = "person"): string {
  return `${name}-${randomUUID().slice(0, 8)}@example.test`;
}

export interface Harness {
  prefix: string;
  config: Config;
  kommo: KommoSimulator;
  moosend: MoosendSimulator;
  loops: LoopsSimulator;
  ingest: RunningIngest;
  worker: RunningWorker | undefined;
  /** Lines the apps logged, for asserting that no secret leaks. */
  logs: string[];
  kommoHookUrl: string;
  /** Starts the worker of a harness made with `worker: false` (jobs wait in the queue until then). */
  startWorker(): Promise<RunningWorker>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** Start the worker too (default true). Ingest-only tests leave it off and inspect the queue. */
  worker?: boolean;
  mappingPath?: string;
  latencyMs?: number;
  env?: Record<string, string>;
  /** Options for the Kommo simulator (e.g. its clock, or the randomness behind its webhook faults). */
  kommo?: Omit<KommoSimulatorOptions, "accessToken">;
  /** Serve the worker's admin HTTP (dashboard, health, metrics) on this port; 0 = any free one. Default: none. */
  adminPort?: number;
  /** How often the worker re-checks a vendor's block, and how far apart its probes go. */
  blockTiming?: StartWorkerOptions["blockTiming"];
}

/**
 * Real Redis, Postgres and HTTP: simulators on port 0, ingest listening on port 0, and the worker,
 * all under a BullMQ prefix of their own so parallel tests never share a queue.
 */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const prefix = `test-${randomUUID()}`;
  const secrets = {
    kommoToken: randomBytes(12).toString("hex"),
    moosendKey: randomBytes(12).toString("hex"),
    loopsKey: randomBytes(12).toString("hex"),
    kommoHook: randomBytes(12).toString("hex"),
    moosendHook: randomBytes(12).toString("hex"),
    loopsHook: `whsec_${randomBytes(24).toString("base64")}`,
  };
  const latencyMs = options.latencyMs ?? 0;
  const kommo = await startKommoSimulator({ latencyMs, ...options.kommo, accessToken: secrets.kommoToken });
  const moosend = await startMoosendSimulator({ apiKey: secrets.moosendKey, latencyMs });
  const loops = await startLoopsSimulator({ apiKey: secrets.loopsKey, webhookSecret: secrets.loopsHook, latencyMs });

  const config = loadConfig({
    env: {
      DATABASE_URL: TEST_DATABASE_URL,
      REDIS_URL: TEST_REDIS_URL,
      FUNNELSYNC_CONFIG: options.mappingPath ?? resolve(REPO_ROOT, "funnelsync.yaml"),
      KOMMO_WEBHOOK_SECRET: secrets.kommoHook,
      MOOSEND_WEBHOOK_SECRET: secrets.moosendHook,
      LOOPS_WEBHOOK_SECRET: secrets.loopsHook,
      MOOSEND_POLL_SECONDS: "0",
      FUNNELSYNC_HASH_KEY: TEST_HASH_KEY,
      RETENTION_DAYS: "0", // its schedule's next run would sit in the queues that tests wait to drain
      KOMMO_RECONCILE_SECONDS: "0",
      ...options.env,
    },
    allowSimulators: true,
  });
  config.kommo = { ...config.kommo, baseUrl: kommo.url, accessToken: secrets.kommoToken };
  config.moosend = { ...config.moosend, baseUrl: `${moosend.url}/v3`, apiKey: secrets.moosendKey };
  config.loops = { ...config.loops, baseUrl: `${loops.url}/api/v1`, apiKey: secrets.loopsKey };
  config.secrets = Object.values(secrets);

  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ service: "test", level: "debug", secrets: config.secrets, stream: sink });
  const ingest = await startIngest({ config, logger, prefix, port: 0, host: "127.0.0.1" });
  const launchWorker = () =>
    startWorker({ config, logger, prefix, adminPort: options.adminPort ?? null, retryBaseDelayMs: 0, backoffMs: () => 100, blockTiming: options.blockTiming });
  const kommoHookUrl = `${ingest.url}/webhooks/kommo/${secrets.kommoHook}`;
  kommo.addWebhook(kommoHookUrl, [...FUNNELSYNC_WEBHOOK_SETTINGS]);
  let worker = options.worker === false ? undefined : await launchWorker();
  moosend.setWebhookUrl(`${ingest.url}/webhooks/moosend/${secrets.moosendHook}`);
  loops.webhookUrl = `${ingest.url}/webhooks/loops`;

  return {
    prefix,
    config,
    kommo,
    moosend,
    loops,
    ingest,
    get worker() {
      return worker;
    },
    logs,
    kommoHookUrl,
    async startWorker() {
      worker ??= await launchWorker();
      return worker;
    },
    async stop() {
      // Each step bounded: a test's leftovers (a delivery in flight, a job waiting on a rate limit)
      // must not hang the suite.
      const bounded = (step: Promise<unknown>) => Promise.race([step.catch(() => undefined), new Promise((r) => setTimeout(r, 10_000).unref())]);
      await bounded(ingest.close());
      if (worker) {
        for (const queue of worker.queues) await bounded(queue.obliterate({ force: true }));
        await bounded(worker.close({ force: true })); // what a test left running is of no interest any more
      }
      await bounded(Promise.all([kommo.close(), moosend.close(), loops.close()]));
    },
  };
}

/** Polls until `check` returns a value that is not undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`eventually: timed out${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The example mapping (funnelsync.yaml) with `edit` applied to its text, in a temporary file; returns its path. */
export function editedMapping(edit: (yaml: string) => string): string {
  const path = join(mkdtempSync(join(tmpdir(), "funnelsync-mapping-")), "funnelsync.yaml");
  writeFileSync(path, edit(readFileSync(resolve(REPO_ROOT, "funnelsync.yaml"), "utf8")));
  return path;
}

/** Waits until the worker's queues hold no waiting, active or delayed job (a moment first, for jobs still being enqueued). */
export async function queuesDrained(h: Harness, timeoutMs = 15_000): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
  await eventually(async () => {
    const counts = await Promise.all(h.worker!.queues.map((q) => q.getJobCounts("waiting", "active", "delayed")));
    return counts.every((c) => (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) === 0);
  }, timeoutMs);
}
