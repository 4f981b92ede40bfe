import express, { type NextFunction, type Request, type Response } from "express";
import qs from "qs";
import { AnnouncedWaits, type IgnoredWait } from "../shared/announcedWaits";
import { Faults } from "../shared/faults";
import { RequestLog } from "../shared/requestLog";
import { requestRecorder } from "../shared/requestRecorder";
import { startServer } from "../shared/startServer";
import { KommoAccount } from "./kommoAccount";
import { kommoAccess } from "./kommoAccess";
import { kommoAccountRoutes } from "./kommoAccountRoutes";
import { kommoContactRoutes } from "./kommoContactRoutes";
import { KommoEventLog, type KommoSimEvent } from "./kommoEvents";
import { kommoEventRoutes } from "./kommoEventRoutes";
import { problem } from "./kommoHttp";
import { kommoLeadRoutes } from "./kommoLeadRoutes";
import { kommoNoteRoutes } from "./kommoNoteRoutes";
import { kommoPatchRoutes } from "./kommoPatchRoutes";
import {
  KOMMO_SIM_SEEDED,
  createKommoState,
  type KommoSimContact,
  type KommoSimDelivery,
  type KommoSimLead,
  type KommoSimNote,
  type KommoSimState,
  type KommoSimTask,
  type KommoSimWebhook,
  type KommoWebhookSetting,
} from "./kommoState";
import { kommoTaskRoutes } from "./kommoTaskRoutes";
import { kommoTestControls, type KommoTestControls } from "./kommoTestControls";
import { encodeKommoWebhook } from "./kommoWebhooks";
import { KommoWebhookSender, type KommoWebhookFaults } from "./kommoWebhookSender";

export { encodeKommoWebhook };
export { KOMMO_SIM_SEEDED };
export type {
  KommoSimEvent,
  KommoSimContact,
  KommoSimDelivery,
  KommoSimLead,
  KommoSimNote,
  KommoSimState,
  KommoSimTask,
  KommoSimWebhook,
  KommoWebhookSetting,
};
export type { KommoSimContactInput } from "./kommoAccount";
export type { KommoSimContactChange, KommoSimLeadInput } from "./kommoTestControls";
export type { KommoWebhookFaults };

export interface KommoSimulatorOptions {
  /** 0 (default) picks a free port on 127.0.0.1. */
  port?: number;
  /** The Bearer token the API accepts. Default "sim-kommo-token". */
  accessToken?: string;
  /** Added to every API answer (benchmarks use 50). */
  latencyMs?: number;
  /** Default 7 per 1000 ms, counted in a sliding window. */
  rateLimit?: { max: number; perMs: number };
  /**
   * Whom the limit counts: every caller from one IP (default), or each token. Kommo's 429 page says
   * "for IP" but the key is unconfirmed; per IP is the stricter reading.
   */
  rateLimitBy?: "ip" | "token";
  /**
   * The 429 body's `retry_after`, in seconds. Default 300, Kommo's documented body (the unit is not
   * stated; seconds is the SDK's reading). Tests that need a short wait set it.
   */
  retryAfterSeconds?: number;
  /** 429s within `blockWindowMs` that get the IP blocked (403 on everything). Default 20 (unconfirmed). */
  blockAfter429s?: number;
  /** Default 60 000. */
  blockWindowMs?: number;
  /**
   * How long a block lasts. Default: until Kommo's support lifts it (set `state.blockedUntil` to 0),
   * as with real blocks; the duration of an automatic lift, if any, is unconfirmed.
   */
  blockMs?: number;
  /** Seed KOMMO_SIM_SEEDED's contacts and leads (pipelines and fields always exist). Default true. */
  seed?: boolean;
  /** Kommo gives a webhook receiver 2 s. */
  webhookTimeoutMs?: number;
  /** The clock for entity times (`updated_at`…) and the events feed, in ms. */
  now?: () => number;
  /**
   * The clock for the rate limit and the block, in ms; real time unless a test moves it. Apart from
   * `now`, so a test can stop Kommo's clock for entity times (two edits in one second) and still be
   * served at 7 calls a second.
   */
  limitsNow?: () => number;
  /** Decides which changes' webhooks `webhookFaults` drops or repeats; default Math.random. */
  random?: () => number;
}

export interface KommoSimulator extends KommoTestControls {
  url: string;
  state: KommoSimState;
  faults: Faults;
  requests: RequestLog;
  /** API requests that came while a 429 had asked to wait (its `retry_after`), which Kommo holds against the caller. */
  ignoredWaits: readonly IgnoredWait[];
  /** Ids of the seeded pipelines, statuses, fields, contacts and leads. */
  seeded: typeof KOMMO_SIM_SEEDED;
  /** Every change the account went through, as `GET /api/v4/events` lists it (oldest first). */
  events: KommoEventLog;
  webhookFaults: KommoWebhookFaults;
  /** Changes whose webhooks were dropped so far. */
  droppedChanges(): number;
  /** Sends the held late duplicates (Kommo's retries can arrive after newer events) and waits for them. */
  sendLateDuplicates(): Promise<number>;
  /** Waits for the webhooks that API writes fired (helpers already wait for their own). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Kommo API v4 over HTTP at `${url}/api/v4`, as strict as the real one: Bearer auth with its 401,
 * hal+json answers and problem+json errors, 204 for anything empty or missing, 422 past 250 per
 * page, 7 requests per sliding second answered with the real 429 body (`retry_after` in the body,
 * no header), an IP block (403 nginx page on everything, webhooks disabled) after too many 429s,
 * no idempotency on POSTs, and form-encoded webhooks in the API v2 format with a 2 s timeout.
 */
export async function startKommoSimulator(options: KommoSimulatorOptions = {}): Promise<KommoSimulator> {
  const now = options.now ?? Date.now;
  const nowSec = () => Math.floor(now() / 1000);
  const state = createKommoState({ accessToken: options.accessToken ?? "sim-kommo-token", seed: options.seed ?? true, nowSec: nowSec() });
  const requests = new RequestLog();
  const faults = new Faults();
  faults.latencyMs = options.latencyMs ?? 0;
  const webhooks = new KommoWebhookSender(state, options.webhookTimeoutMs ?? 2_000, options.random ?? Math.random);
  const account = new KommoAccount(state, new KommoEventLog(state, nowSec), nowSec, webhooks);
  const limitsNow = options.limitsNow ?? Date.now;
  const waits = new AnnouncedWaits(limitsNow);
  const access = kommoAccess(state, {
    rateLimit: options.rateLimit ?? { max: 7, perMs: 1_000 },
    rateLimitBy: options.rateLimitBy ?? "ip",
    retryAfterSeconds: options.retryAfterSeconds ?? 300,
    blockAfter429s: options.blockAfter429s ?? 20,
    blockWindowMs: options.blockWindowMs ?? 60_000,
    blockMs: options.blockMs ?? Number.POSITIVE_INFINITY,
    now: limitsNow,
    waits,
  });

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  // PHP reads any number of `filter[id][]`; qs' default arrayLimit (20) would turn them into an object.
  app.set("query parser", (query: string) => qs.parse(query, { arrayLimit: 1_000, parameterLimit: 5_000, depth: 10 }));
  app.use(requestRecorder(requests));
  app.use(waits.watch());
  app.use(access.rateLimit);
  app.use(faults.middleware(access.throttle, access.answerError));
  app.use(express.json({ limit: "2mb" }));
  app.use(access.authenticate);
  app.use(
    kommoAccountRoutes(account),
    kommoLeadRoutes(account),
    kommoContactRoutes(account),
    kommoPatchRoutes(account),
    kommoNoteRoutes(account),
    kommoTaskRoutes(account),
    kommoEventRoutes(account),
  );
  app.use((req, res) => {
    problem(res, 404, "Not Found", `Cannot ${req.method} https://${state.account.subdomain}.kommo.com${req.path}`);
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: unknown }).status;
    if (status === 400) return problem(res, 400, "Bad Request", "Syntax error");
    if (status === 413) return problem(res, 413, "Payload Too Large", "Request entity too large");
    access.answerError(res, 500);
  });

  const server = await startServer(app, options.port ?? 0);

  return {
    url: server.url,
    state,
    faults,
    requests,
    ignoredWaits: waits.ignored,
    seeded: KOMMO_SIM_SEEDED,
    ...kommoTestControls(account),
    events: account.events,
    webhookFaults: webhooks.faults,
    droppedChanges: () => webhooks.droppedChanges(),
    sendLateDuplicates: () => webhooks.sendLateDuplicates(),
    settled: () => webhooks.settled(),
    close: () => server.close(),
  };
}
