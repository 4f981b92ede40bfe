import { randomBytes } from "node:crypto";
import { Job, Queue } from "bullmq";
import { Redis } from "ioredis";
import { createDb, type Db } from "@funnelsync/db";
import { KEY_PREFIX, openJobQueues, QUEUES } from "@funnelsync/jobs";
import { startKommoSimulator, startLoopsSimulator, startMoosendSimulator, type KommoSimulator, type LoopsSimulator, type MoosendSimulator } from "@funnelsync/simulators";
import { LISTS, uniqueEmail, uniqueId } from "../harness";
import { TEST_DATABASE_URL, TEST_HASH_KEY } from "../testEnv";
import { AppProcess, freePort, PostgresCluster, RedisServer, sleep, waitFor } from "./processes";

/** The stages of the example mapping (funnelsync.yaml) that the fault tests move leads to. */
export const STAGE = {
  /** Moosend "Nurture" list + Loops `nurture_started`. */
  nurture: 6002,
  /** Moosend "Customers" list + Loops `deal_won` + the `cm_welcome_01` welcome. */
  won: 142,
  /** Loops `deal_lost` only. */
  lost: 143,
} as const;

/** The vendors' published limits, which no scenario may exceed. */
export const LIMITS = {
  kommo: { max: 7, perMs: 1_000 },
  moosendSubscribe: { max: 10, perMs: 10_000 },
  moosendSubscribeMany: { max: 2, perMs: 10_000 },
  loops: { max: 10, perMs: 1_000 },
} as const;

const isKommoApi = (r: { path: string }) => r.path.startsWith("/api/v4/");
const isMoosendSubscribe = (r: { path: string }) => r.path.endsWith("/subscribe.json");
const isMoosendSubscribeMany = (r: { path: string }) => r.path.endsWith("/subscribe_many.json");
const isLoopsApi = (r: { path: string }) => r.path.startsWith("/api/v1/");

export interface Person {
  leadId: number;
  contactId: number;
  email: string;
  company: string;
  budget: number;
}

/** One stage change sent through Kommo: a webhook pair (status + update) that must become one job. */
export interface StageChange {
  person: Person;
  statusId: number;
}

interface Effect {
  what: string;
  count: () => number;
}

export interface DeliveryFigures {
  sent: number;
  delivered: number;
  duplicated: number;
  lost: number;
  /** Effects (Loops events, welcomes, Moosend memberships) that are missing or repeated. */
  problems: string[];
}

export interface RateFigures {
  kommo: { max: number; limit: number };
  moosendSubscribe: { max: number; limit: number };
  moosendSubscribeMany: { max: number; limit: number };
  loops: { max: number; limit: number };
  /** Kommo answers 403 to everything once it blocks the IP. */
  kommoBlocked: number;
  kommo429s: number;
  loops429s: number;
}

/**
 * Every way a run broke a vendor's rules: more requests in a window than the vendor allows, a Kommo IP
 * block, or 429s beyond those the test injected (each one we earned ourselves counts toward a block).
 */
export function limitViolations(rates: RateFigures, injected429s: { kommo: number; loops: number } = { kommo: 0, loops: 0 }): string[] {
  const violations: string[] = [];
  for (const key of ["kommo", "moosendSubscribe", "moosendSubscribeMany", "loops"] as const) {
    if (rates[key].max > rates[key].limit) violations.push(`${key}: ${rates[key].max} requests in one window, limit ${rates[key].limit}`);
  }
  if (rates.kommoBlocked > 0) violations.push(`kommo blocked the IP (${rates.kommoBlocked} answers 403)`);
  if (rates.kommo429s !== injected429s.kommo) violations.push(`kommo answered 429 ${rates.kommo429s} times (${injected429s.kommo} injected)`);
  if (rates.loops429s !== injected429s.loops) violations.push(`loops answered 429 ${rates.loops429s} times (${injected429s.loops} injected)`);
  return violations;
}

export interface FaultRigOptions {
  /** Worker processes to start with (default 1). */
  workers?: number;
  /** A private cluster for the test that restarts Postgres; else the shared test database. */
  privatePostgres?: boolean;
  /** Added by every simulator to every answer. */
  latencyMs?: number;
  /** The Kommo simulator's 429 `retry_after` (default Kommo's documented 300 s). */
  kommoRetryAfterSeconds?: number;
}

/**
 * The fault harness: a private Redis (append-only), the three simulators in this process, and the real
 * apps as child processes (`node --import tsx apps/<app>/src/main.ts`), configured only through the
 * environment as in production. Faults come from the simulators (`faults`), from signals to the
 * processes and from stopping Redis or Postgres; results are read from the simulators' records.
 */
export class FaultRig {
  readonly workers: AppProcess[] = [];
  readonly ingests: AppProcess[] = [];
  private readonly queues: Queue[];
  private readonly redisClient: Redis;

  private constructor(
    readonly redis: RedisServer,
    readonly postgres: PostgresCluster | undefined,
    readonly databaseUrl: string,
    readonly db: Db,
    readonly kommo: KommoSimulator,
    readonly moosend: MoosendSimulator,
    readonly loops: LoopsSimulator,
    readonly secrets: Record<string, string>,
    readonly ingestPort: number,
  ) {
    this.redisClient = new Redis(redis.url, { maxRetriesPerRequest: null, lazyConnect: false });
    this.redisClient.on("error", () => undefined); // the Redis test stops it on purpose
    this.queues = [...openJobQueues(this.redisClient, { prefix: KEY_PREFIX }).all];
  }

  /** Kommo's changes: where the stage-change jobs live once ingest (or its batch) put them there. */
  private get queue(): Queue {
    return this.queues.find((q) => q.name === QUEUES.kommo)!;
  }

  static async start(options: FaultRigOptions = {}): Promise<FaultRig> {
    const secrets = {
      KOMMO_ACCESS_TOKEN: `kt${randomBytes(16).toString("hex")}`,
      KOMMO_WEBHOOK_SECRET: `kw${randomBytes(16).toString("hex")}`,
      MOOSEND_API_KEY: `mk${randomBytes(16).toString("hex")}`,
      MOOSEND_WEBHOOK_SECRET: `mw${randomBytes(16).toString("hex")}`,
      LOOPS_API_KEY: `lk${randomBytes(16).toString("hex")}`,
      LOOPS_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString("base64")}`,
      ADMIN_PASSWORD: `ap${randomBytes(16).toString("hex")}`,
    };
    const latencyMs = options.latencyMs ?? 0;
    const [redis, postgres, kommo, moosend, loops, ingestPort] = await Promise.all([
      RedisServer.start(),
      options.privatePostgres ? PostgresCluster.start() : Promise.resolve(undefined),
      startKommoSimulator({ accessToken: secrets.KOMMO_ACCESS_TOKEN, latencyMs, retryAfterSeconds: options.kommoRetryAfterSeconds }),
      startMoosendSimulator({ apiKey: secrets.MOOSEND_API_KEY, latencyMs }),
      startLoopsSimulator({ apiKey: secrets.LOOPS_API_KEY, webhookSecret: secrets.LOOPS_WEBHOOK_SECRET, latencyMs }),
      freePort(),
    ]);
    const databaseUrl = postgres?.url ?? TEST_DATABASE_URL;
    const rig = new FaultRig(redis, postgres, databaseUrl, createDb(databaseUrl), kommo, moosend, loops, secrets, ingestPort);
    // Only moves reach ingest: leads are created before they are watched, so a burst is stage changes only.
    kommo.addWebhook(rig.hookUrl, ["status_lead", "update_lead"]);
    await Promise.all([rig.startIngest(), ...Array.from({ length: options.workers ?? 1 }, () => rig.startWorker())]);
    return rig;
  }

  get ingestUrl(): string {
    return `http://127.0.0.1:${this.ingestPort}`;
  }

  get hookUrl(): string {
    return `${this.ingestUrl}/webhooks/kommo/${this.secrets.KOMMO_WEBHOOK_SECRET}`;
  }

  /** What `npm run start:ingest` and `npm run start:worker` read in production. */
  private env(extra: Record<string, string>): Record<string, string> {
    return {
      ...this.secrets,
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redis.url,
      FUNNELSYNC_CONFIG: "./funnelsync.yaml",
      KOMMO_BASE_URL: this.kommo.url,
      MOOSEND_BASE_URL: `${this.moosend.url}/v3`,
      MOOSEND_POLL_SECONDS: "0",
      // Each scenario is about its own fault; the reconciler (a repeatable job, never "drained") has its own tests.
      KOMMO_RECONCILE_SECONDS: "0",
      LOOPS_BASE_URL: `${this.loops.url}/api/v1`,
      LOG_LEVEL: "debug",
      FUNNELSYNC_HASH_KEY: TEST_HASH_KEY,
      RETENTION_DAYS: "0", // its schedule's next run would keep idle() waiting
      ...extra,
    };
  }

  async startIngest(): Promise<AppProcess> {
    const ingest = AppProcess.start(`ingest-${this.ingests.length + 1}`, "ingest", this.env({ PORT: String(this.ingestPort), ADMIN_PORT: "0" }));
    this.ingests.push(ingest);
    await ingest.waitForLine(/ingest\.start: listening/);
    return ingest;
  }

  get ingest(): AppProcess {
    return this.ingests[this.ingests.length - 1]!;
  }

  async startWorker(): Promise<AppProcess> {
    const adminPort = await freePort();
    const env = this.env({ PORT: "0", ADMIN_PORT: String(adminPort) });
    const worker = AppProcess.start(`worker-${this.workers.length + 1}`, "worker", env, `http://127.0.0.1:${adminPort}`);
    this.workers.push(worker);
    await worker.waitForLine(/worker\.start: consuming/);
    return worker;
  }

  /** Contacts with an e-mail, company and budget, each with a lead in "New lead"; no webhook fires. */
  async people(count: number): Promise<Person[]> {
    const people: Person[] = [];
    for (let i = 0; i < count; i++) {
      const email = uniqueEmail(`fault${i}`);
      const company = `Company ${i} GmbH`;
      const budget = 1_000 + i;
      const contact = await this.kommo.addContact({ id: uniqueId(), name: `Person ${i} Test`, email, company });
      const lead = await this.kommo.addLead({ id: uniqueId(), name: `Deal ${i}`, contactId: contact.id, budget, statusId: 6001 });
      people.push({ leadId: lead.id, contactId: contact.id, email, company, budget });
    }
    return people;
  }

  /** Moves each lead as a user would; Kommo posts `status_lead` then `update_lead` for each move. */
  async move(changes: StageChange[]): Promise<StageChange[]> {
    for (const change of changes) await this.kommo.moveLead(change.person.leadId, change.statusId);
    return changes;
  }

  private effects(change: StageChange): Effect[] {
    const { email, company, budget } = change.person;
    const events = (eventName: string): Effect => ({
      what: `loops event ${eventName} for ${email}`,
      count: () => this.loops.state.events.filter((e) => e.email === email && e.eventName === eventName).length,
    });
    const member = (listId: string): Effect => ({
      what: `moosend member of ${listId} with its fields: ${email}`,
      count: () =>
        this.moosend
          .subscribers(listId)
          .filter((s) => s.Email === email && s.Status === "Subscribed" && s.CustomFields.Company === company && s.CustomFields.Budget === String(budget)).length,
    });
    switch (change.statusId) {
      case STAGE.nurture:
        return [events("nurture_started"), member(LISTS.nurture)];
      case STAGE.won:
        return [
          events("deal_won"),
          member(LISTS.customers),
          {
            what: `welcome cm_welcome_01 to ${email}`,
            count: () => this.loops.state.transactionals.filter((t) => t.email === email && t.transactionalId === "cm_welcome_01").length,
          },
        ];
      case STAGE.lost:
        return [events("deal_lost")];
      default:
        throw new Error(`no expectations for stage ${change.statusId}`);
    }
  }

  /** Per stage change: delivered (every effect happened), duplicated (one happened twice), lost (one never did). */
  figures(changes: StageChange[]): DeliveryFigures {
    const figures: DeliveryFigures = { sent: changes.length, delivered: 0, duplicated: 0, lost: 0, problems: [] };
    for (const change of changes) {
      const counts = this.effects(change).map((effect) => ({ effect, n: effect.count() }));
      if (counts.every(({ n }) => n >= 1)) figures.delivered++;
      if (counts.some(({ n }) => n > 1)) figures.duplicated++;
      if (counts.some(({ n }) => n === 0)) figures.lost++;
      for (const { effect, n } of counts) if (n !== 1) figures.problems.push(`${effect.what}: ${n}×`);
    }
    return figures;
  }

  /**
   * The record in Postgres, per change: its job and each step it took succeeded, and the received
   * event was stored and stamped processed. Returns what is missing.
   */
  async missingOutcomes(changes: StageChange[]): Promise<string[]> {
    const steps: Record<number, string[]> = {
      // The stage's event carries the contact's fields: no separate `loops.contact` step.
      [STAGE.nurture]: ["moosend.subscribe", "loops.event.nurture_started"],
      [STAGE.won]: ["moosend.subscribe", "loops.event.deal_won", "loops.transactional"],
      [STAGE.lost]: ["loops.event.deal_lost"],
    };
    const missing: string[] = [];
    for (const { person, statusId } of changes) {
      const rows = (await this.db.outcomes.forLead(person.leadId)).filter((r) => r.jobName === "kommo.leadStatusChanged");
      for (const step of ["job", ...steps[statusId]!]) {
        if (!rows.some((r) => r.step === step && r.status === "succeeded")) {
          const found = rows.filter((r) => r.step === step).map((r) => `${r.status}${r.reason ? `: ${r.reason}` : ""}`);
          missing.push(`lead ${person.leadId} ${step}: ${found.join(", ") || "no row"}`);
        }
      }
      const events = await this.db.events.forLead(person.leadId);
      if (!events.some((e) => e.kind === "kommo.leadStatusChanged" && e.processedAt)) missing.push(`lead ${person.leadId}: no processed event row`);
    }
    return missing;
  }

  /** Waits until every change had all its effects and the queue holds no unfinished job. */
  async delivered(changes: StageChange[], timeoutMs: number): Promise<void> {
    try {
      await waitFor(`${changes.length} stage changes to be delivered`, () => this.figures(changes).delivered === changes.length, timeoutMs, 200);
    } catch (err) {
      const { problems, ...figures } = this.figures(changes);
      const counts = await this.jobCounts().catch(() => ({}));
      throw new Error(`${(err as Error).message}: ${JSON.stringify({ ...figures, jobs: counts, problems: problems.slice(0, 5) })}`);
    }
    await this.idle(timeoutMs);
  }

  /** No job waiting, active or delayed in any queue (ingest's batches, Kommo's changes, the ESPs' reports). */
  async idle(timeoutMs: number): Promise<void> {
    await waitFor("the queues to drain", async () => {
      for (const queue of this.queues) {
        const counts = await queue.getJobCounts("active", "wait", "delayed", "prioritized", "waiting-children");
        if (Object.values(counts).some((n) => n > 0)) return false;
      }
      return true;
    }, timeoutMs, 200);
  }

  /** Every job of the Kommo queue that finished, with its attempts. */
  async finishedJobs(): Promise<Job[]> {
    return this.queue.getJobs(["completed", "failed"], 0, -1);
  }

  /** Jobs that failed for good (their attempts spent, or a permanent failure), with the reason. */
  async failedJobs(): Promise<Array<{ id: string; reason: string }>> {
    return (await this.queue.getJobs(["failed"], 0, -1)).map((j) => ({ id: j.id!, reason: j.failedReason }));
  }

  async jobCounts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts("active", "wait", "delayed", "completed", "failed");
  }

  rates(): RateFigures {
    return {
      kommo: { max: this.kommo.requests.maxInWindow(LIMITS.kommo.perMs, isKommoApi), limit: LIMITS.kommo.max },
      moosendSubscribe: { max: this.moosend.requests.maxInWindow(LIMITS.moosendSubscribe.perMs, isMoosendSubscribe), limit: LIMITS.moosendSubscribe.max },
      moosendSubscribeMany: {
        max: this.moosend.requests.maxInWindow(LIMITS.moosendSubscribeMany.perMs, isMoosendSubscribeMany),
        limit: LIMITS.moosendSubscribeMany.max,
      },
      loops: { max: this.loops.requests.maxInWindow(LIMITS.loops.perMs, isLoopsApi), limit: LIMITS.loops.max },
      kommoBlocked: this.kommo.requests.count((r) => r.status === 403) + (this.kommo.state.blockedUntil > 0 ? 1 : 0),
      kommo429s: this.kommo.requests.count((r) => r.status === 429),
      loops429s: this.loops.requests.count((r) => r.status === 429),
    };
  }

  /** Prints the scenario's figures (events sent, delivered, duplicated, lost; highest rates) and returns them. */
  summary(scenario: string, changes: StageChange[], extra: Record<string, unknown> = {}) {
    const { problems, ...figures } = this.figures(changes);
    const rates = this.rates();
    const summary = { scenario, ...figures, rates, ...extra, ...(problems.length ? { problems: problems.slice(0, 10) } : {}) };
    console.log(`FAULT SUMMARY ${JSON.stringify(summary)}`);
    return summary;
  }

  /**
   * Every place a secret could leak to: the apps' log lines (all processes, dead ones too), everything
   * in Redis (job data, failure reasons, stack traces), the outcome and event rows of the leads, and the
   * dashboard's API. Returns where each secret value was found.
   */
  async leaks(people: Person[]): Promise<string[]> {
    const places: Array<[string, string]> = [];
    for (const app of [...this.ingests, ...this.workers]) places.push([`${app.name} logs`, app.lines.join("\n")]);
    places.push(["redis", await this.dumpRedis()]);
    for (const person of people) {
      places.push([`outcome rows of lead ${person.leadId}`, JSON.stringify(await this.db.outcomes.forLead(person.leadId))]);
      places.push([`event rows of lead ${person.leadId}`, JSON.stringify(await this.db.events.forLead(person.leadId))]);
    }
    const worker = this.workers.find((w) => w.running && w.adminUrl);
    if (worker) {
      const auth = `Basic ${Buffer.from(`admin:${this.secrets.ADMIN_PASSWORD}`).toString("base64")}`;
      for (const queue of Object.values(QUEUES)) {
        for (const status of ["completed", "failed", "latest"]) {
          const res = await fetch(`${worker.adminUrl}/admin/queues/api/queues?activeQueue=${queue}&status=${status}&page=1&jobsPerPage=1000`, { headers: { authorization: auth } });
          if (res.status !== 200) throw new Error(`dashboard API answered ${res.status}`);
          places.push([`dashboard (${queue}, ${status})`, await res.text()]);
        }
      }
    }
    const found: string[] = [];
    for (const [name, value] of Object.entries(this.secrets)) {
      for (const [where, text] of places) if (text.includes(value)) found.push(`${name} in ${where}`);
    }
    return found;
  }

  private async dumpRedis(): Promise<string> {
    const r = this.redisClient;
    const parts: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await r.scan(cursor, "COUNT", "1000");
      cursor = next;
      for (const key of keys) {
        const type = await r.type(key);
        parts.push(key);
        if (type === "string") parts.push((await r.get(key)) ?? "");
        else if (type === "hash") parts.push(JSON.stringify(await r.hgetall(key)));
        else if (type === "list") parts.push(JSON.stringify(await r.lrange(key, 0, -1)));
        else if (type === "set") parts.push(JSON.stringify(await r.smembers(key)));
        else if (type === "zset") parts.push(JSON.stringify(await r.zrange(key, "0", "-1")));
        else if (type === "stream") parts.push(JSON.stringify(await r.xrange(key, "-", "+")));
      }
    } while (cursor !== "0");
    return parts.join("\n");
  }

  /** Kills what is left of the apps and removes everything the rig started, each step even if one fails. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.ingests, ...this.workers].map((app) => app.stop()));
    await Promise.allSettled(this.queues.map((q) => q.close()));
    this.redisClient.disconnect();
    await Promise.allSettled([this.kommo.close(), this.moosend.close(), this.loops.close(), this.db.close()]);
    await Promise.allSettled([this.redis.destroy(), this.postgres?.destroy()]);
  }
}

export { sleep, waitFor };
