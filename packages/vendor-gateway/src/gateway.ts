import type { Redis } from "ioredis";
import type { Db } from "@funnelsync/db";
import { KOMMO_LIMITS, KommoClient, type KommoContact, type KommoLead } from "@funnelsync/kommo-client";
import { LOOPS_LIMITS, LoopsClient, type LoopsContactInput, type LoopsEvent } from "@funnelsync/loops-client";
import { MOOSEND_LIMITS, MoosendClient, type MoosendSubscriber, type MoosendSubscriberInput } from "@funnelsync/moosend-client";
import type { RateLimit, VendorCallObservation, VendorHttpOptions } from "@funnelsync/vendor-http";
import type { BurstSignal } from "./burst";
import { optOutsAmong, reactivationsIn } from "./consent";
import { KommoReader } from "./kommoReader";
import { readContactsRecorded, readLeadsRecorded } from "./kommoRecords";
import { LoopsPropertyTypes } from "./loopsPropertyTypes";
import { MoosendRemovals } from "./moosendRemovals";
import { MoosendSubscriptions } from "./moosendSubscriptions";
import { PipelineNames } from "./pipelineNames";
import { createRedisGate, shareOfGate, type RedisGate, type RedisGateOptions } from "./redisGate";
import type { StepSkipped } from "./stepSkipped";
import { SubscriberPool } from "./subscriberPool";
import { answered, noteVendorStatus, VendorAnswer } from "./vendorAnswer";

type Operation = (...args: unknown[]) => unknown;

/** The client's members `names`, each operation bound to the client and wrapped by `wrap`. */
function pick<C extends object, K extends keyof C>(client: C, names: readonly K[], wrap: (operation: Operation) => Operation = (operation) => operation): Record<K, unknown> {
  const picked = {} as Record<K, unknown>;
  for (const name of names) {
    const member = client[name];
    picked[name] = typeof member === "function" ? wrap((member as Operation).bind(client)) : member;
  }
  return picked;
}

/** The operations a client offers that the gateway hands on as they are (each call through the shared gate). */
function passThrough<C extends object, K extends keyof C>(client: C, names: readonly K[]): Pick<C, K> {
  return pick(client, names) as Pick<C, K>;
}

/** Writes whose outcome a step records: each answers with its result and the vendor's status. */
type Answering<C, K extends keyof C> = {
  [N in K]: C[N] extends (...args: infer A) => Promise<infer R> ? (...args: A) => Promise<VendorAnswer<R>> : never;
};

/** The client's operations `names`, each answering with a `VendorAnswer`. */
function answering<C extends object, K extends keyof C>(client: C, names: readonly K[]): Answering<C, K> {
  return pick(client, names, (operation) => (...args) => answered(async () => operation(...args))) as Answering<C, K>;
}

const KOMMO_ANSWERING = ["updateContact", "addNotes", "addTask"] as const satisfies ReadonlyArray<keyof KommoClient>;

const KOMMO_AS_IS = [
  "apiId",
  "findContactsByEmail",
  "updateFieldValues",
  "updateNotes",
  "recentNotes",
  "recentNoteTexts",
  "addTasks",
  "recentOpenTasks",
  "recentOpenTaskTexts",
  "openTaskIds",
  "listLeads",
  "listEvents",
  "listWebhooks",
  "saveWebhook",
  "getPipelines",
  "getCustomFields",
] as const satisfies ReadonlyArray<keyof KommoClient>;

/**
 * Kommo as the worker and the CLI reach it: leads and contacts read in batched pages (and recorded
 * for engagement), stage names cached, everything else as the client does it.
 */
export type KommoGateway = Pick<KommoClient, (typeof KOMMO_AS_IS)[number]> & Answering<KommoClient, (typeof KOMMO_ANSWERING)[number]> & {
  /** null when Kommo has no such lead (deleted). Batched with every other look-up in this process. */
  lead(id: number): Promise<KommoLead | null>;
  /** null when Kommo has no such contact. Batched like `lead`. */
  contact(id: number): Promise<KommoContact | null>;
  /** Leads by id, 250 a call, each page recorded for engagement. */
  leads(ids: readonly number[]): Promise<Map<number, KommoLead>>;
  /** Contacts by id, 250 a call, each page recorded for engagement. */
  contacts(ids: readonly number[]): Promise<Map<number, KommoContact>>;
  /** Pipeline and stage names (for Loops event properties), read from Kommo once per ten minutes. */
  stageNames(pipelineId: number, statusId: number): Promise<{ pipelineName: string; stageName: string }>;
};

const MOOSEND_ANSWERING = ["unsubscribe"] as const satisfies ReadonlyArray<keyof MoosendClient>;

const MOOSEND_AS_IS = [
  "delete",
  "findById",
  "listMembers",
  "getLists",
  "getListCustomFields",
  "getCampaigns",
  "getCampaignActivity",
] as const satisfies ReadonlyArray<keyof MoosendClient>;

export type MoosendGateway = Pick<MoosendClient, (typeof MOOSEND_AS_IS)[number]> & Answering<MoosendClient, (typeof MOOSEND_ANSWERING)[number]> & {
  /**
   * Puts the person on the list with every mapped field, in a bulk call when others are waiting.
   * Consent is decided here and nowhere else: someone who opted out, even while waiting for the call,
   * is not subscribed (Moosend's subscribe would re-subscribe them) and `StepSkipped` says why.
   */
  subscribe(listId: string, subscriber: MoosendSubscriberInput): Promise<VendorAnswer<MoosendSubscriber> | StepSkipped>;
  /** Takes the person off the list (not an unsubscribe: their consent stays), batched per list. */
  remove(listId: string, email: string): Promise<VendorAnswer<void>>;
};

const LOOPS_ANSWERING = ["deleteContact", "sendTransactional"] as const satisfies ReadonlyArray<keyof LoopsClient>;

const LOOPS_AS_IS = ["findContact", "testApiKey", "getContactProperties", "listTransactionalEmails"] as const satisfies ReadonlyArray<keyof LoopsClient>;

export type LoopsGateway = Pick<LoopsClient, (typeof LOOPS_AS_IS)[number]> & Answering<LoopsClient, (typeof LOOPS_ANSWERING)[number]> & {
  /** Upserts the contact, its properties converted to the types Loops declares for them. */
  updateContact(contact: LoopsContactInput): Promise<VendorAnswer<{ id: string }>>;
  /** Sends the event; a contact it carries has its properties converted like `updateContact`'s. */
  sendEvent(event: LoopsEvent, idempotencyKey: string): Promise<VendorAnswer<Awaited<ReturnType<LoopsClient["sendEvent"]>>>>;
};

export interface VendorCredentials {
  kommo: { baseUrl?: string; accessToken?: string };
  moosend: { baseUrl?: string; apiKey?: string };
  loops: { baseUrl?: string; apiKey?: string };
}

export interface VendorGatewayOptions {
  redis: Redis;
  /** Namespaces the rate-limit windows and the subscriber pool, like the BullMQ prefix. */
  prefix: string;
  credentials: VendorCredentials;
  /** Consent and memberships (subscribes), and the records engagement reads instead of Kommo. */
  db: Pick<Db, "consent" | "memberships" | "kommoRecords">;
  /** How much Kommo-change work is on its way, in every process: batched calls wait to fill only while more is coming. */
  burst?: BurstSignal;
  /** Named shares of Kommo's limit, each a window of its own a call takes before the shared one (`kommoShare`). */
  kommoShares?: Record<string, RateLimit>;
  gate?: Pick<RedisGateOptions, "maxWaitMs" | "blockedRecheckMs" | "probeEveryMs" | "onChange">;
  /** Sees every vendor call (metrics). */
  observe?: (call: VendorCallObservation) => void;
  /** Quick in-call retries' first delay; tests set 0. */
  retryBaseDelayMs?: number;
}

export interface VendorGateway {
  /** The rate limits and blocks every process shares (Redis). */
  gate: RedisGate;
  kommo: KommoGateway;
  moosend: MoosendGateway;
  loops: LoopsGateway;
  /** Whether the vendor has credentials: without them its facade throws on use. */
  has(vendor: "kommo" | "moosend" | "loops"): boolean;
  /**
   * Kommo for background work (engagement): each call takes a slot of the named share of Kommo's
   * limit first, so live sync always keeps the rest; `observe` sees its calls too.
   */
  kommoShare(share: string, observe?: (call: VendorCallObservation) => void): KommoGateway;
  close(): Promise<void>;
}

/** A facade whose every member throws: the vendor has no credentials, which the caller allowed. */
function withoutCredentials<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get: (_target, name) => {
      if (name === "then") return undefined;
      throw new Error(`${what} has no credentials`);
    },
  });
}

/**
 * The one way the worker and the CLI reach a vendor. Every call goes through the shared Redis gate
 * (each vendor's limits, pauses after a 429, blocks); reads and writes that pay to batch are batched
 * here (Kommo's pages, Moosend's bulk subscribes and removals), across processes where they are shared.
 */
export function createVendorGateway(options: VendorGatewayOptions): VendorGateway {
  const { credentials: c, db } = options;
  const configured = {
    kommo: Boolean(c.kommo.baseUrl && c.kommo.accessToken),
    moosend: Boolean(c.moosend.baseUrl && c.moosend.apiKey),
    loops: Boolean(c.loops.baseUrl && c.loops.apiKey),
  };
  const gate = createRedisGate({
    redis: options.redis,
    prefix: options.prefix,
    limits: { kommo: { ...KOMMO_LIMITS, ...options.kommoShares }, moosend: MOOSEND_LIMITS, loops: LOOPS_LIMITS },
    accounts: { kommo: c.kommo.baseUrl, moosend: c.moosend.baseUrl, loops: c.loops.baseUrl },
    ...options.gate,
  });
  const observe = (call: VendorCallObservation) => {
    options.observe?.(call);
    noteVendorStatus(call.status);
  };
  const http: Pick<VendorHttpOptions, "gate" | "observe" | "retryBaseDelayMs"> = { gate, observe, retryBaseDelayMs: options.retryBaseDelayMs };
  const closers: Array<() => Promise<unknown>> = [];

  const kommoFacade = (client: KommoClient, reader: KommoReader): KommoGateway => {
    const pipelines = new PipelineNames(client);
    return {
      ...passThrough(client, KOMMO_AS_IS),
      ...answering(client, KOMMO_ANSWERING),
      lead: (id) => reader.lead(id),
      contact: (id) => reader.contact(id),
      leads: (ids) => readLeadsRecorded(client, db.kommoRecords, ids),
      contacts: (ids) => readContactsRecorded(client, db.kommoRecords, ids),
      stageNames: (pipelineId, statusId) => pipelines.stage(pipelineId, statusId),
    };
  };
  const kommoClient = (httpOptions: typeof http) => new KommoClient({ baseUrl: c.kommo.baseUrl!, accessToken: c.kommo.accessToken!, http: httpOptions });

  let kommo = withoutCredentials<KommoGateway>("Kommo (KOMMO_BASE_URL, KOMMO_ACCESS_TOKEN)");
  if (configured.kommo) {
    const client = kommoClient(http);
    kommo = kommoFacade(client, new KommoReader(client, { burst: options.burst, records: db.kommoRecords }));
  }

  let moosend = withoutCredentials<MoosendGateway>("Moosend (MOOSEND_BASE_URL, MOOSEND_API_KEY)");
  if (configured.moosend) {
    const client = new MoosendClient({ baseUrl: c.moosend.baseUrl!, apiKey: c.moosend.apiKey!, http });
    const removals = new MoosendRemovals(client);
    // Opened on the first subscribe: a CLI command that never subscribes opens no pub/sub connection.
    let subscriptions: { scheduler: MoosendSubscriptions; pool: SubscriberPool } | undefined;
    const scheduler = () => {
      if (!subscriptions) {
        const pool = new SubscriberPool({ redis: options.redis, prefix: options.prefix });
        const scheduler = new MoosendSubscriptions({
          moosend: client,
          pool,
          window: (limitKey) => gate.window("moosend", limitKey),
          upstream: options.burst ? (horizonMs, waitingHere) => options.burst!.subscribersComing(horizonMs, waitingHere) : undefined,
          optOuts: (emails) => optOutsAmong(db, emails),
          reactivations: reactivationsIn(db),
        });
        subscriptions = { scheduler, pool };
        closers.push(async () => (scheduler.close(), await pool.close()));
      }
      return subscriptions.scheduler;
    };
    moosend = {
      ...passThrough(client, MOOSEND_AS_IS),
      ...answering(client, MOOSEND_ANSWERING),
      subscribe: (listId, subscriber) => scheduler().subscribe(listId, subscriber),
      remove: (listId, email) => removals.remove(listId, email),
    };
  }

  let loops = withoutCredentials<LoopsGateway>("Loops (LOOPS_BASE_URL, LOOPS_API_KEY)");
  if (configured.loops) {
    const client = new LoopsClient({ baseUrl: c.loops.baseUrl!, apiKey: c.loops.apiKey!, http });
    const types = new LoopsPropertyTypes(client);
    const typed = async <T extends { properties?: LoopsContactInput["properties"] }>(contact: T): Promise<T> =>
      contact.properties ? { ...contact, properties: await types.coerce(contact.properties) } : contact;
    loops = {
      ...passThrough(client, LOOPS_AS_IS),
      ...answering(client, LOOPS_ANSWERING),
      // Typed first: reading Loops' property types is a call of its own, not the one the step records.
      updateContact: async (contact) => {
        const typedContact = await typed(contact);
        return answered(() => client.updateContact(typedContact));
      },
      sendEvent: async (event, key) => {
        const typedEvent = event.contact ? { ...event, contact: await typed(event.contact) } : event;
        return answered(() => client.sendEvent(typedEvent, key));
      },
    };
  }

  return {
    gate,
    kommo,
    moosend,
    loops,
    has: (vendor) => configured[vendor],
    kommoShare(share, observeShare) {
      const client = kommoClient({
        ...http,
        gate: shareOfGate(gate, share, "background"),
        observe: (call) => {
          observe(call);
          observeShare?.(call);
        },
      });
      return kommoFacade(client, new KommoReader(client, { records: db.kommoRecords }));
    },
    async close() {
      for (const close of closers) await close();
    },
  };
}
