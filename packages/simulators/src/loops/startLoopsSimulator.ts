import express, { type ErrorRequestHandler, type RequestHandler, type Response } from "express";
import { bearerToken } from "../shared/bearerToken";
import { AnnouncedWaits, type IgnoredWait } from "../shared/announcedWaits";
import { Faults } from "../shared/faults";
import { InFlight } from "../shared/inFlight";
import { RequestLog } from "../shared/requestLog";
import { requestRecorder } from "../shared/requestRecorder";
import { SlidingWindow } from "../shared/slidingWindow";
import { startServer } from "../shared/startServer";
import { createLoopsApi, LOOPS_ROUTES } from "./loopsApi";
import {
  createLoopsState,
  findContactByEmail,
  newContact,
  type LoopsSimContact,
  type LoopsSimDelivery,
  type LoopsState,
  type LoopsWebhookHeaders,
} from "./loopsState";
import {
  contactEventPayload,
  emailEventPayload,
  mailingListEventPayload,
  newWebhookId,
  signDelivery,
  testEventPayload,
  type LoopsEmailSource,
} from "./loopsWebhooks";

export type {
  LoopsSimContact,
  LoopsSimDelivery,
  LoopsSimEvent,
  LoopsSimList,
  LoopsSimProperty,
  LoopsSimTemplate,
  LoopsSimTransactional,
  LoopsState,
  LoopsWebhookHeaders,
} from "./loopsState";
export { LOOPS_SIM_LISTS } from "./loopsState";
export type { LoopsEmailSource } from "./loopsWebhooks";

/** Generated once for the simulator; tests and the demo configure ingest with it. */
export const LOOPS_SIM_WEBHOOK_SECRET = "whsec_vMHonojk8Q369nkly4GJocJ4Q88LvAWO";
export const LOOPS_SIM_API_KEY = "sim-loops-key";

export interface LoopsSimulatorOptions {
  port?: number;
  /** The one valid key; anything else gets Loops' 401. */
  apiKey?: string;
  teamName?: string;
  /** Added to every request (benchmarks use 50 ms). */
  latencyMs?: number;
  /** Loops allows 10 requests per second per team. */
  rateLimit?: { max: number; perMs: number };
  /** Loops' 429 carries no Retry-After (undocumented); true adds one. */
  retryAfterHeader?: boolean;
  /**
   * Whether a reused Idempotency-Key with the SAME body gets 409 or the original answer. Unconfirmed;
   * "409" (the default) is the harder case for a client.
   */
  identicalReplay?: "409" | "original";
  /**
   * Whether the team may use Loops' content API (`GET /transactional-emails`, default true); without
   * it that route answers 401 and only the deprecated `GET /transactional` lists e-mails.
   */
  contentApi?: boolean;
  /** A `whsec_…` secret to sign deliveries with. */
  webhookSecret?: string;
  /** The account's one webhook endpoint; deliveries are recorded but not sent while unset. */
  webhookUrl?: string;
  /** How long a delivery waits for the receiver. */
  webhookTimeoutMs?: number;
  /** Custom properties `company` and `budget`, two mailing lists and the `cm_welcome_01` template (default true). */
  seed?: boolean;
  /** Clock for rate limits, idempotency expiry, webhook times and timestamps. */
  now?: () => number;
}

export interface SignedDeliveryOptions {
  id?: string;
  /** Unix seconds or a Date; defaults to the simulator's clock. */
  timestamp?: number | Date;
  /** Sign with another secret (a forged or rotated key). */
  secret?: string;
}

export interface LoopsSimulator {
  /** Server root; the API is at `${url}/api/v1`. */
  url: string;
  state: LoopsState;
  faults: Faults;
  requests: RequestLog;
  /**
   * API requests that came while a 429 had asked to wait: its Retry-After when it sends one, else one
   * window of the limit (Loops names no wait, and a sooner call may find the window still full).
   */
  ignoredWaits: readonly IgnoredWait[];
  apiKey: string;
  webhookSecret: string;
  /** Settable after start, e.g. once ingest is listening. */
  webhookUrl: string | undefined;
  /** Puts a contact straight into state (as if created in the Loops UI). */
  addContact(fields: Partial<LoopsSimContact> & { email: string }): LoopsSimContact;
  contact(email: string): LoopsSimContact | undefined;
  /** Contact unsubscribes from all e-mail → `contact.unsubscribed`. */
  unsubscribe(email: string): Promise<LoopsSimDelivery[]>;
  /** → `email.hardBounced`, then the contact is unsubscribed → `contact.unsubscribed` (two webhook ids). */
  hardBounce(email: string, source?: LoopsEmailSource): Promise<LoopsSimDelivery[]>;
  /** → `email.softBounced`; nothing changes, Loops retries the send itself. */
  softBounce(email: string, source?: LoopsEmailSource): Promise<LoopsSimDelivery[]>;
  /** → `email.spamReported` only: Loops does not say it unsubscribes, so no `contact.unsubscribed` follows. */
  spamReport(email: string, source?: LoopsEmailSource): Promise<LoopsSimDelivery[]>;
  /**
   * The contact got, opened or clicked a campaign or loop e-mail → `email.delivered|opened|clicked`
   * (opens and clicks are not tracked for transactional mail). Give `source.emailId` to report
   * another open or click of the same message.
   */
  engage(email: string, kind: "delivered" | "opened" | "clicked", source?: LoopsEmailSource): Promise<LoopsSimDelivery[]>;
  /** Leaves one mailing list → `contact.mailingList.unsubscribed`. */
  unsubscribeFromList(email: string, listId: string): Promise<LoopsSimDelivery[]>;
  /**
   * The person re-subscribes from a marketing e-mail's preference centre → `email.resubscribed`
   * (campaign or loop e-mails only: transactional ones carry no unsubscribe link).
   */
  resubscribe(email: string, source?: LoopsEmailSource): Promise<LoopsSimDelivery[]>;
  /** Joins one mailing list (after confirming, with double opt-in) → `contact.mailingList.subscribed`. */
  subscribeToList(email: string, listId: string): Promise<LoopsSimDelivery[]>;
  /** Deleted in the Loops UI → `contact.deleted`, then `contact.unsubscribed`. */
  deleteContact(email: string): Promise<LoopsSimDelivery[]>;
  /** The dashboard's "send test event" → `testing.testEvent` (no contactIdentity). */
  sendTestEvent(): Promise<LoopsSimDelivery[]>;
  /** Signs and delivers any payload (an object is JSON-encoded; a string is sent as is). */
  deliver(payload: unknown, options?: { id?: string }): Promise<LoopsSimDelivery>;
  /** Re-sends an earlier delivery: same webhook-id and body, fresh timestamp and signature. */
  redeliver(webhookId: string): Promise<LoopsSimDelivery>;
  /** Headers and body exactly as a delivery would carry them, without sending anything. */
  signedDelivery(payload: unknown, options?: SignedDeliveryOptions): { headers: LoopsWebhookHeaders; body: string };
  /** Resolves once webhooks fired by API calls (a contact deletion) have been delivered. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

function eventNameOf(payload: unknown): string {
  if (typeof payload === "object" && payload !== null && "eventName" in payload) return String(payload.eventName);
  return "";
}

export async function startLoopsSimulator(options: LoopsSimulatorOptions = {}): Promise<LoopsSimulator> {
  const now = options.now ?? Date.now;
  const apiKey = options.apiKey ?? LOOPS_SIM_API_KEY;
  const limit = options.rateLimit ?? { max: 10, perMs: 1_000 };
  const window = new SlidingWindow(limit.max, limit.perMs);
  const webhookTimeoutMs = options.webhookTimeoutMs ?? 15_000;
  const state = createLoopsState(options.seed ?? true, options.teamName ?? "Acme");
  const requests = new RequestLog();
  const faults = new Faults();
  faults.latencyMs = options.latencyMs ?? 0;
  const inFlight = new InFlight();
  const unixNow = () => Math.floor(now() / 1000);

  const waits = new AnnouncedWaits(now);
  const answer429 = (res: Response, retryAfterMs = limit.perMs) => {
    res.set("x-ratelimit-limit", String(limit.max)).set("x-ratelimit-remaining", "0");
    const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    if (options.retryAfterHeader) res.set("Retry-After", String(retryAfterSeconds));
    waits.announce(options.retryAfterHeader ? retryAfterSeconds * 1_000 : limit.perMs);
    res.status(429).json({ success: false, message: "Rate limit exceeded." });
  };
  const answerError = (res: Response, status: number) => {
    if (status === 401) return void res.status(401).json({ error: "Invalid API key" });
    const message = status >= 500 ? "Internal server error." : status === 404 ? "Not found." : "Bad request.";
    res.status(status).json({ success: false, message });
  };

  const isApi = (path: string) => path.startsWith("/api/v1/");
  const authenticate: RequestHandler = (req, res, next) => {
    if (!isApi(req.path)) return next();
    if (bearerToken(req) !== apiKey) return void res.status(401).json({ error: "Invalid API key" });
    next();
  };
  const rateLimit: RequestHandler = (req, res, next) => {
    if (!isApi(req.path)) return next();
    const taken = window.take(apiKey, now());
    if (!taken.ok) return answer429(res, taken.retryAfterMs);
    res.set("x-ratelimit-limit", String(limit.max)).set("x-ratelimit-remaining", String(taken.remaining));
    next();
  };
  const notFound: RequestHandler = (req, res) => {
    const method = LOOPS_ROUTES[req.path];
    if (method) return void res.status(405).set("Allow", method).json({ success: false, message: "Method not allowed." });
    res.status(404).json({ success: false, message: "Not found." });
  };
  const onError: ErrorRequestHandler = (err: { type?: string; status?: number }, _req, res, _next) => {
    if (err.type === "entity.parse.failed") return void res.status(400).json({ success: false, message: "Invalid JSON in request body." });
    if (err.status === 413) return void res.status(413).json({ success: false, message: "Request body too large." });
    res.status(500).json({ success: false, message: "Internal server error." });
  };

  const app = express();
  app.disable("x-powered-by");
  app.use(requestRecorder(requests));
  app.use(waits.watch(isApi));
  app.use(faults.middleware((res) => answer429(res), answerError));
  // Not mounted at "/api/v1": a mount rewrites req.path, which the request log records.
  app.use(authenticate, rateLimit, createLoopsApi({
    state,
    now,
    identicalReplay: options.identicalReplay ?? "409",
    contentApi: options.contentApi ?? true,
    contactDeleted: (contact) => void inFlight.track(deliverAll(deletionPayloads(contact))),
  }));
  app.use(notFound);
  app.use(onError);

  const server = await startServer(app, options.port ?? 0);

  function signedDelivery(payload: unknown, opts: SignedDeliveryOptions = {}) {
    const body = typeof payload === "string" ? payload : JSON.stringify(payload);
    const timestamp =
      opts.timestamp instanceof Date ? Math.floor(opts.timestamp.getTime() / 1000) : (opts.timestamp ?? unixNow());
    return signDelivery(opts.secret ?? sim.webhookSecret, body, opts.id ?? newWebhookId(), timestamp);
  }

  async function post(delivery: LoopsSimDelivery): Promise<LoopsSimDelivery> {
    const url = sim.webhookUrl;
    delivery.url = url;
    if (!url) {
      delivery.status = "no-endpoint";
      return delivery;
    }
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { ...delivery.headers },
        body: delivery.body,
        signal: AbortSignal.timeout(webhookTimeoutMs),
      });
      await response.arrayBuffer();
      delivery.status = response.status;
    } catch (err) {
      delivery.status = "failed";
      delivery.error = err instanceof Error ? err.message : String(err);
    }
    return delivery;
  }

  function record(payload: unknown, body: string, headers: LoopsWebhookHeaders, attempt: number): LoopsSimDelivery {
    const delivery: LoopsSimDelivery = {
      webhookId: headers["webhook-id"],
      eventName: eventNameOf(payload),
      payload,
      body,
      headers,
      url: undefined,
      status: "pending",
      attempt,
      at: now(),
    };
    state.deliveries.push(delivery);
    return delivery;
  }

  async function deliver(payload: unknown, opts: { id?: string } = {}): Promise<LoopsSimDelivery> {
    const { headers, body } = signedDelivery(payload, opts);
    return inFlight.track(post(record(payload, body, headers, 1)));
  }

  /** One delivery after another, as Loops sends a change's events in order. */
  async function deliverAll(payloads: unknown[]): Promise<LoopsSimDelivery[]> {
    const deliveries: LoopsSimDelivery[] = [];
    for (const payload of payloads) deliveries.push(await deliver(payload));
    return deliveries;
  }

  function deletionPayloads(contact: LoopsSimContact): unknown[] {
    return [contactEventPayload("contact.deleted", contact, unixNow()), contactEventPayload("contact.unsubscribed", contact, unixNow())];
  }

  function requireContact(email: string): LoopsSimContact {
    const contact = findContactByEmail(state, email);
    if (!contact) throw new Error(`loops simulator: no contact with e-mail ${email}`);
    return contact;
  }

  function changeListMembership(email: string, listId: string, subscribed: boolean): Promise<LoopsSimDelivery[]> {
    const contact = requireContact(email);
    const list = state.lists.find((l) => l.id === listId);
    if (!list) throw new Error(`loops simulator: no mailing list ${listId}`);
    contact.mailingLists[listId] = subscribed;
    const eventName = subscribed ? "contact.mailingList.subscribed" : "contact.mailingList.unsubscribed";
    return deliverAll([mailingListEventPayload(eventName, contact, list, unixNow())]);
  }

  const sim: LoopsSimulator = {
    url: server.url,
    state,
    faults,
    requests,
    ignoredWaits: waits.ignored,
    apiKey,
    webhookSecret: options.webhookSecret ?? LOOPS_SIM_WEBHOOK_SECRET,
    webhookUrl: options.webhookUrl,
    addContact(fields) {
      if (findContactByEmail(state, fields.email)) throw new Error(`loops simulator: ${fields.email} already exists`);
      const contact = newContact(fields, now());
      state.contacts.set(contact.id, contact);
      return contact;
    },
    contact: (email) => findContactByEmail(state, email),
    async unsubscribe(email) {
      const contact = requireContact(email);
      contact.subscribed = false;
      return deliverAll([contactEventPayload("contact.unsubscribed", contact, unixNow())]);
    },
    async hardBounce(email, source) {
      const contact = requireContact(email);
      const bounce = await deliver(emailEventPayload("email.hardBounced", contact, unixNow(), source));
      contact.subscribed = false;
      const unsubscribed = await deliver(contactEventPayload("contact.unsubscribed", contact, unixNow()));
      return [bounce, unsubscribed];
    },
    async softBounce(email, source) {
      return deliverAll([emailEventPayload("email.softBounced", requireContact(email), unixNow(), source)]);
    },
    async spamReport(email, source) {
      return deliverAll([emailEventPayload("email.spamReported", requireContact(email), unixNow(), source)]);
    },
    async engage(email, kind, source) {
      if (kind !== "delivered" && source?.sourceType === "transactional") throw new Error("loops simulator: Loops tracks no opens or clicks of transactional e-mail");
      return deliverAll([emailEventPayload(`email.${kind}`, requireContact(email), unixNow(), source)]);
    },
    async unsubscribeFromList(email, listId) {
      return changeListMembership(email, listId, false);
    },
    async resubscribe(email, source = {}) {
      if (source.sourceType === "transactional") throw new Error("loops simulator: transactional e-mails have no preference centre");
      const contact = requireContact(email);
      contact.subscribed = true;
      return deliverAll([emailEventPayload("email.resubscribed", contact, unixNow(), source)]);
    },
    async subscribeToList(email, listId) {
      return changeListMembership(email, listId, true);
    },
    async deleteContact(email) {
      const contact = requireContact(email);
      state.contacts.delete(contact.id);
      return deliverAll(deletionPayloads(contact));
    },
    async sendTestEvent() {
      return deliverAll([testEventPayload(unixNow())]);
    },
    deliver,
    async redeliver(webhookId) {
      const earlier = state.deliveries.filter((d) => d.webhookId === webhookId);
      const original = earlier[0];
      if (!original) throw new Error(`loops simulator: no delivery ${webhookId}`);
      const { headers } = signedDelivery(original.body, { id: webhookId });
      return inFlight.track(post(record(original.payload, original.body, headers, earlier.length + 1)));
    },
    signedDelivery,
    idle: () => inFlight.idle(),
    async close() {
      await sim.idle();
      await server.close();
    },
  };
  return sim;
}
