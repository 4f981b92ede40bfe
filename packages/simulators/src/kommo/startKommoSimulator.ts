import { STATUS_CODES } from "node:http";
import express, { type NextFunction, type Request, type Response } from "express";
import qs from "qs";
import { SEED } from "../seed";
import { Faults } from "../shared/faults";
import { RequestLog } from "../shared/requestLog";
import { requestRecorder } from "../shared/requestRecorder";
import { SlidingWindow } from "../shared/slidingWindow";
import { startServer } from "../shared/startServer";
import {
  KOMMO_SIM_ENUMS,
  KOMMO_SIM_FIELDS,
  KOMMO_SIM_SEEDED,
  KOMMO_WEBHOOK_SETTINGS,
  createKommoState,
  emailValues,
  type KommoEntityType,
  type KommoSimContact,
  type KommoSimEmail,
  type KommoSimDelivery,
  type KommoSimFieldValue,
  type KommoSimLead,
  type KommoSimNote,
  type KommoSimState,
  type KommoSimTask,
  type KommoSimWebhook,
  type KommoWebhookSetting,
} from "./kommoState";
import { mergeContacts } from "./kommoMerge";
import { KommoEventLog, snapshotFields, type KommoSimEvent } from "./kommoEvents";
import { companyHookItem, contactHookItem, deliverKommoWebhook, encodeKommoWebhook, hookBody, leadHookItem, noteHookItem, taskHookItem } from "./kommoWebhooks";
import {
  isRecord,
  parseCustomFieldsWrite,
  parseTagRefs,
  leadIdsByContact,
  renderContact,
  renderField,
  renderLead,
  renderPipeline,
  renderWebhook,
  resolveTag,
  setFieldValues,
  type KommoFieldError,
} from "./kommoWire";

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
  /** The clock for entity times (`updated_at`…), in ms. */
  now?: () => number;
  /** Decides which changes' webhooks `webhookFaults` drops or repeats; default Math.random. */
  random?: () => number;
}

/** Deliveries that go wrong the way Kommo's do: a share of changes never announced, some announced twice. */
export interface KommoWebhookFaults {
  /** Share (0–1) of changes whose webhooks are never sent; the change and its event still happen. */
  dropShare: number;
  /** Share (0–1) of sent changes whose webhooks are sent again, late, by `sendLateDuplicates()`. */
  lateDuplicateShare: number;
}

export interface KommoSimContactInput {
  id?: number;
  name: string;
  email?: string;
  /** Several EMAIL values; a bare address is WORK when first, PRIV after. */
  emails?: Array<string | KommoSimEmail>;
  phone?: string;
  company?: string;
  optIn?: boolean;
}

export interface KommoSimLeadInput {
  id?: number;
  name?: string;
  /** Defaults to `budget`, else none. */
  price?: number | null;
  /** Default: the main pipeline. */
  pipelineId?: number;
  /** Default: the pipeline's first stage. */
  statusId?: number;
  /** An existing contact to link as main… */
  contactId?: number;
  /** …or one to create with the lead… */
  contact?: KommoSimContactInput;
  /** …or just its e-mail. */
  email?: string;
  /** The "Budget" custom field (770002). */
  budget?: number;
}

export interface KommoSimContactChange {
  name?: string;
  email?: string;
  /** Replaces every EMAIL value (adds, removes or re-types addresses). */
  emails?: Array<string | KommoSimEmail>;
  company?: string;
  optIn?: boolean;
}

export interface KommoSimulator {
  url: string;
  state: KommoSimState;
  faults: Faults;
  requests: RequestLog;
  /** Ids of the seeded pipelines, statuses, fields, contacts and leads. */
  seeded: typeof KOMMO_SIM_SEEDED;
  /** Creates a contact as a user would, and fires `add_contact`. */
  addContact(input: KommoSimContactInput): Promise<KommoSimContact>;
  /** Creates a lead (and its contact if asked), and fires `add_lead` (and `add_contact`). */
  addLead(input?: KommoSimLeadInput): Promise<KommoSimLead>;
  /** Moves a lead as a user would: fires `status_lead`, then `update_lead` carrying `old_status_id`. */
  moveLead(leadId: number, statusId: number, pipelineId?: number): Promise<KommoSimLead>;
  /** Edits a contact in the UI and fires `update_contact`. */
  updateContact(contactId: number, change: KommoSimContactChange): Promise<KommoSimContact>;
  /** Edits several contacts at once (a mass action) and fires ONE `update_contact` carrying them all. */
  updateContacts(changes: Array<KommoSimContactChange & { contactId: number }>): Promise<KommoSimContact[]>;
  /** Deletes a lead and fires `delete_lead`. */
  deleteLead(leadId: number): Promise<void>;
  /** Creates a company in the UI and fires `add_company` (a `contacts[add]` item with `type=company`). */
  addCompany(name: string): Promise<{ id: number }>;
  /** Creates a task on a lead in the UI and fires `add_task`. */
  addTask(leadId: number, text: string): Promise<KommoSimTask>;
  /** Adds a note to a lead in the UI and fires `note_lead`. */
  addNote(leadId: number, text: string): Promise<KommoSimNote>;
  /** Deletes a contact as a user would, and fires `delete_contact`. */
  deleteContact(contactId: number): Promise<void>;
  /** Merges a duplicate into the survivor as Kommo's duplicate control does (see `kommoMerge.ts`). */
  mergeContacts(survivorId: number, loserId: number): Promise<void>;
  /** Every change the account went through, as `GET /api/v4/events` lists it (oldest first). */
  events: KommoEventLog;
  webhookFaults: KommoWebhookFaults;
  /** Changes whose webhooks were dropped so far. */
  droppedChanges(): number;
  /** Sends the held late duplicates (Kommo's retries can arrive after newer events) and waits for them. */
  sendLateDuplicates(): Promise<number>;
  /** Registers a webhook as the admin UI would (no API request counted). */
  addWebhook(destination: string, settings: KommoWebhookSetting[]): KommoSimWebhook;
  notesFor(entityType: KommoEntityType, id: number): KommoSimNote[];
  tasksFor(entityType: KommoEntityType, id: number): KommoSimTask[];
  contact(id: number): KommoSimContact | undefined;
  lead(id: number): KommoSimLead | undefined;
  /** A field's values on an entity (booleans for checkboxes, numeric fields as strings). */
  fieldValues(entity: { customFields: KommoSimFieldValue[] }, fieldId: number): Array<string | number | boolean>;
  /** Waits for the webhooks that API writes fired (helpers already wait for their own). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const API = "/api/v4";
const MAX_BATCH = 250;
const MAX_WEBHOOKS = 100;
const NOTE_TYPES = new Set([
  "common", "call_in", "call_out", "service_message", "extended_service_message", "message_cashier",
  "geolocation", "sms_in", "sms_out", "attachment",
]);

type Json = Record<string, unknown>;

function problem(res: Response, status: number, title: string, detail: string, extra: Json = {}): void {
  res.status(status).type("application/problem+json").send(JSON.stringify({ title, type: `https://httpstatus.es/${status}`, status, detail, ...extra }));
}

function hal(res: Response, status: number, body: unknown): void {
  res.status(status).type("application/hal+json").send(JSON.stringify(body));
}

function nginxPage(res: Response, status: number): void {
  const line = `${status} ${STATUS_CODES[status] ?? "Error"}`;
  res
    .status(status)
    .type("text/html")
    .send(`<html>\r\n<head><title>${line}</title></head>\r\n<body>\r\n<center><h1>${line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`);
}

function validationFailed(res: Response, items: Array<{ requestId: string; errors: KommoFieldError[] }>): void {
  problem(res, 400, "Bad Request", "Request validation failed", {
    "validation-errors": items.map((item) => ({ request_id: item.requestId, errors: item.errors })),
  });
}

function emptyRequest(res: Response): void {
  problem(res, 400, "Bad Request", "Request data can not be empty");
}

/** qs gives arrays, index-keyed objects or a scalar; PHP reads them all as lists. */
function listOf(value: unknown): unknown[] {
  if (value === undefined || value === null || value === "") return [];
  if (Array.isArray(value)) return value;
  return typeof value === "object" ? Object.values(value) : [value];
}

function intOf(value: unknown): number | null {
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  return typeof value === "string" && /^\d{1,15}$/.test(value) ? Number(value) : null;
}

function idParam(req: Request): number | null {
  return intOf(req.params.id);
}

function withSet(req: Request): Set<string> {
  return new Set(listOf(req.query.with).flatMap((w) => String(w).split(",")).map((w) => w.trim()));
}

function baseOf(req: Request): string {
  return `${req.protocol}://${req.get("host")}${API}`;
}

function fuzzyMatch(entity: { id: number; name: string; customFields: KommoSimFieldValue[] } & Partial<KommoSimContact>, query: string): boolean {
  const needle = query.trim().toLowerCase();
  if (!needle) return true;
  const haystack = [String(entity.id), entity.name, entity.firstName ?? "", entity.lastName ?? "", ...entity.customFields.flatMap((f) => f.values.map((v) => String(v.value)))];
  return haystack.some((text) => text.toLowerCase().includes(needle));
}

/** `filter[updated_at][from|to]` (unix s), as Kommo's lists of leads, notes and tasks take it. */
function updatedWithin(filter: Record<string, unknown>): (at: number) => boolean {
  const range = isRecord(filter.updated_at) ? filter.updated_at : {};
  const from = intOf(range.from);
  const to = intOf(range.to);
  return (at) => (from === null || at >= from) && (to === null || at <= to);
}

function orderBy<T extends { id: number; updatedAt: number; createdAt: number }>(items: T[], order: unknown): T[] {
  const spec = isRecord(order) ? order : {};
  const [key, direction] = (Object.entries(spec)[0] ?? ["id", "asc"]) as [string, unknown];
  const pick = key === "updated_at" ? (x: T) => x.updatedAt : key === "created_at" ? (x: T) => x.createdAt : (x: T) => x.id;
  const sign = String(direction).toLowerCase() === "desc" ? -1 : 1;
  return [...items].sort((a, b) => sign * (pick(a) - pick(b) || a.id - b.id));
}

/** A list answer with Kommo's paging: `limit` ≤ 250 (more → 422), 204 when the page is empty, `next` only when more exist. */
function listPage<T>(req: Request, res: Response, items: T[], key: string, render: (item: T) => unknown): void {
  const limitRaw = intOf(req.query.limit);
  const limit = limitRaw === null || limitRaw < 1 ? 50 : limitRaw;
  if (limit > MAX_BATCH) return problem(res, 422, "Unprocessable Entity", `Limit ${MAX_BATCH} per page`);
  const pageRaw = intOf(req.query.page);
  const page = pageRaw === null || pageRaw < 1 ? 1 : pageRaw;
  const slice = items.slice((page - 1) * limit, page * limit);
  if (slice.length === 0) {
    res.status(204).end();
    return;
  }
  const href = (p: number) => `${baseOf(req)}${req.path.slice(API.length)}?${qs.stringify({ ...(req.query as Json), page: p, limit }, { encodeValuesOnly: true })}`;
  const links: Json = { self: { href: href(page) } };
  if (items.length > page * limit) links.next = { href: href(page + 1) };
  if (page > 1) links.first = { href: href(1) };
  if (page > 1) links.prev = { href: href(page - 1) };
  hal(res, 200, { _page: page, _links: links, _embedded: { [key]: slice.map(render) } });
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
  const rate = options.rateLimit ?? { max: 7, perMs: 1_000 };
  const limiter = new SlidingWindow(rate.max, rate.perMs);
  const retryAfterSeconds = options.retryAfterSeconds ?? 300;
  const blockAfter = options.blockAfter429s ?? 20;
  const blockWindowMs = options.blockWindowMs ?? 60_000;
  const blockMs = options.blockMs ?? Number.POSITIVE_INFINITY;
  const webhookTimeoutMs = options.webhookTimeoutMs ?? 2_000;
  const pending = new Set<Promise<unknown>>();
  let nextCompanyId = 70000001;
  const random = options.random ?? Math.random;
  const events = new KommoEventLog(state, nowSec);
  const webhookFaults: KommoWebhookFaults = { dropShare: 0, lateDuplicateShare: 0 };
  let dropped = 0;
  let lateDuplicates: Array<Array<[KommoWebhookSetting, Json]>> = [];
  const by = SEED.kommo.responsibleUserId;

  // ---- state changes shared by the helpers and the API -------------------------------------------

  /**
   * Delivers one change's webhooks in turn to their subscribers; payloads are taken when the change
   * happens. `webhookFaults` may drop them all, or hold a copy to send late.
   */
  function fireAll(hooks: Array<[KommoWebhookSetting, Json]>): Promise<void> {
    if (webhookFaults.dropShare > 0 && random() < webhookFaults.dropShare) {
      dropped++;
      return Promise.resolve();
    }
    if (webhookFaults.lateDuplicateShare > 0 && random() < webhookFaults.lateDuplicateShare) lateDuplicates.push(hooks);
    return deliverAll(hooks);
  }

  function deliverAll(hooks: Array<[KommoWebhookSetting, Json]>): Promise<void> {
    const run = (async () => {
      for (const [event, payload] of hooks) await deliverKommoWebhook(state, event, payload, { timeoutMs: webhookTimeoutMs });
    })();
    pending.add(run);
    const done = () => pending.delete(run);
    run.then(done, done);
    return run;
  }

  function leadEvents(lead: KommoSimLead, oldStatusId: number | undefined): Array<[KommoWebhookSetting, Json]> {
    if (oldStatusId === undefined) return [["update_lead", hookBody(state, "leads", "update", leadHookItem(state, lead))]];
    return [
      ["status_lead", hookBody(state, "leads", "status", leadHookItem(state, lead, { oldStatusId }))],
      ["update_lead", hookBody(state, "leads", "update", leadHookItem(state, lead, { oldStatusId }))],
    ];
  }

  const contactEvent = (contact: KommoSimContact, action: "add" | "update"): [KommoWebhookSetting, Json] => [
    action === "add" ? "add_contact" : "update_contact",
    hookBody(state, "contacts", action, contactHookItem(state, contact)),
  ];

  function pipelineOf(id: number) {
    const pipeline = state.pipelines.find((p) => p.id === id);
    if (!pipeline) throw new Error(`kommo simulator: no pipeline ${id}`);
    return pipeline;
  }

  function setStatus(lead: KommoSimLead, statusId: number, pipelineId: number): void {
    events.leadStatus(lead.id, { statusId, pipelineId }, { statusId: lead.statusId, pipelineId: lead.pipelineId }, by);
    lead.pipelineId = pipelineId;
    lead.statusId = statusId;
    lead.closedAt = statusId === 142 || statusId === 143 ? nowSec() : null;
  }

  function contactFields(input: { email?: string; emails?: Array<string | KommoSimEmail>; phone?: string; company?: string; optIn?: boolean }): KommoSimFieldValue[] {
    const fields: KommoSimFieldValue[] = [];
    const emails = input.emails ?? (input.email !== undefined ? [input.email] : []);
    if (emails.length) fields.push(emailValues(emails));
    if (input.phone) fields.push({ fieldId: KOMMO_SIM_FIELDS.phone, values: [{ value: input.phone, enumId: KOMMO_SIM_ENUMS.phone.WORK, enumCode: "WORK" }] });
    if (input.company !== undefined) fields.push({ fieldId: KOMMO_SIM_FIELDS.company, values: [{ value: input.company }] });
    if (input.optIn !== undefined) fields.push({ fieldId: KOMMO_SIM_FIELDS.optIn, values: [{ value: input.optIn }] });
    return fields;
  }

  function createContact(input: KommoSimContactInput): KommoSimContact {
    const id = input.id ?? state.nextId.contact++;
    if (state.contacts.has(id)) throw new Error(`kommo simulator: contact ${id} exists`);
    const [firstName = "", ...rest] = input.name.split(" ");
    const t = nowSec();
    const contact: KommoSimContact = {
      id, name: input.name, firstName, lastName: rest.join(" "), responsibleUserId: SEED.kommo.responsibleUserId,
      createdAt: t, updatedAt: t, isDeleted: false, customFields: contactFields(input), tags: [],
    };
    state.contacts.set(id, contact);
    events.record("contact_added", { type: "contact", id }, { by });
    return contact;
  }

  function requireLead(id: number): KommoSimLead {
    const lead = state.leads.get(id);
    if (!lead || lead.isDeleted) throw new Error(`kommo simulator: no lead ${id}`);
    return lead;
  }

  function requireContact(id: number): KommoSimContact {
    const contact = state.contacts.get(id);
    if (!contact || contact.isDeleted) throw new Error(`kommo simulator: no contact ${id}`);
    return contact;
  }

  // ---- the HTTP API ------------------------------------------------------------------------------

  function throttle(res: Response): void {
    const at = Date.now();
    state.recent429s = [...state.recent429s.filter((t) => t > at - blockWindowMs), at];
    if (state.recent429s.length >= blockAfter) {
      state.blockedUntil = at + blockMs;
      state.recent429s = [];
      for (const hook of state.webhooks) hook.disabled = true;
    }
    problem(res, 429, "Too Many Requests", "You have sent too many requests in a given amount of time. Please try again later.", {
      retry_after: retryAfterSeconds,
    });
  }

  function unauthorized(res: Response): void {
    problem(res, 401, "Unauthorized", "Invalid user name or password");
  }

  function answerError(res: Response, status: number): void {
    switch (status) {
      case 400:
        return problem(res, 400, "Bad Request", "Request validation failed");
      case 401:
        return unauthorized(res);
      case 402:
        return problem(res, 402, "Payment Required", "Payment required");
      case 403:
      case 502:
      case 503:
      case 504:
        return nginxPage(res, status);
      case 429:
        return throttle(res);
      case 500:
        return problem(res, 500, "ErrInternalServer", "Internal server error", { trace_id: Math.random().toString(16).slice(2, 18) });
      default:
        return problem(res, status, STATUS_CODES[status] ?? "Error", STATUS_CODES[status] ?? "Error");
    }
  }

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  // PHP reads any number of `filter[id][]`; qs' default arrayLimit (20) would turn them into an object.
  app.set("query parser", (query: string) => qs.parse(query, { arrayLimit: 1_000, parameterLimit: 5_000, depth: 10 }));
  app.use(requestRecorder(requests));
  app.use((req, res, next) => {
    if (state.blockedUntil > Date.now()) return nginxPage(res, 403);
    const key = options.rateLimitBy === "token" ? String(req.headers.authorization ?? "") : (req.ip ?? req.socket.remoteAddress ?? "");
    if (!limiter.take(key).ok) return throttle(res);
    next();
  });
  app.use(faults.middleware(throttle, answerError));
  app.use(express.json({ limit: "2mb" }));
  app.use((req, res, next) => {
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match || match[1] !== state.accessToken) return unauthorized(res);
    next();
  });

  app.get(`${API}/account`, (req, res) => {
    hal(res, 200, {
      id: state.account.id, name: state.account.name, subdomain: state.account.subdomain, country: "BR", currency: "USD",
      current_user_id: SEED.kommo.responsibleUserId, _links: { self: { href: `${baseOf(req)}/account` } },
    });
  });

  app.get(`${API}/leads/pipelines`, (req, res) => {
    hal(res, 200, {
      _total_items: state.pipelines.length,
      _links: { self: { href: `${baseOf(req)}/leads/pipelines` } },
      _embedded: { pipelines: state.pipelines.map((p) => renderPipeline(state, p, baseOf(req))) },
    });
  });

  app.get(`${API}/leads/pipelines/:id`, (req, res, next) => {
    if (idParam(req) === null) return next();
    const pipeline = state.pipelines.find((p) => p.id === idParam(req));
    if (!pipeline) return void res.status(204).end();
    hal(res, 200, renderPipeline(state, pipeline, baseOf(req)));
  });

  app.get(`${API}/:entity/custom_fields`, (req, res, next) => {
    const entity = req.params.entity;
    if (entity !== "leads" && entity !== "contacts") return next();
    const fields = state.fields.filter((f) => f.entityType === entity);
    listPage(req, res, fields, "custom_fields", (f) => renderField(f, baseOf(req)));
  });

  app.get(`${API}/leads`, (req, res) => {
    const filter = isRecord(req.query.filter) ? req.query.filter : {};
    const ids = new Set(listOf(filter.id).map(intOf));
    const pipelineIds = new Set(listOf(filter.pipeline_id).map(intOf));
    const stages = listOf(filter.statuses).filter(isRecord).map((s) => ({ pipelineId: intOf(s.pipeline_id), statusId: intOf(s.status_id) }));
    const within = updatedWithin(filter);
    const query = typeof req.query.query === "string" ? req.query.query : "";
    const leads = [...state.leads.values()].filter(
      (lead) =>
        !lead.isDeleted &&
        (ids.size === 0 || ids.has(lead.id)) &&
        (pipelineIds.size === 0 || pipelineIds.has(lead.pipelineId)) &&
        (stages.length === 0 || stages.some((s) => s.pipelineId === lead.pipelineId && (s.statusId === null || s.statusId === lead.statusId))) &&
        within(lead.updatedAt) &&
        fuzzyMatch(lead, query),
    );
    const withContacts = withSet(req).has("contacts");
    listPage(req, res, orderBy(leads, req.query.order), "leads", (lead) => renderLead(state, lead, baseOf(req), withContacts));
  });

  app.get(`${API}/leads/:id`, (req, res, next) => {
    const id = idParam(req);
    if (id === null) return next();
    const lead = state.leads.get(id);
    if (!lead || lead.isDeleted) return void res.status(204).end();
    hal(res, 200, renderLead(state, lead, baseOf(req), withSet(req).has("contacts")));
  });

  app.get(`${API}/contacts`, (req, res) => {
    const filter = isRecord(req.query.filter) ? req.query.filter : {};
    const ids = new Set(listOf(filter.id).map(intOf));
    const query = typeof req.query.query === "string" ? req.query.query : "";
    const contacts = [...state.contacts.values()].filter((c) => !c.isDeleted && (ids.size === 0 || ids.has(c.id)) && fuzzyMatch(c, query));
    const withLeads = withSet(req).has("leads");
    const leadIndex = withLeads ? leadIdsByContact(state) : undefined;
    listPage(req, res, orderBy(contacts, req.query.order), "contacts", (c) => renderContact(state, c, baseOf(req), withLeads, leadIndex));
  });

  app.get(`${API}/contacts/:id`, (req, res, next) => {
    const id = idParam(req);
    if (id === null) return next();
    const contact = state.contacts.get(id);
    if (!contact || contact.isDeleted) return void res.status(204).end();
    hal(res, 200, renderContact(state, contact, baseOf(req), withSet(req).has("leads")));
  });

  /** Validates one PATCH item and returns how to apply it; nothing changes unless every item is valid. */
  function planPatch(entityType: KommoEntityType, id: number | null, body: Json, errors: KommoFieldError[]): (() => { oldStatusId?: number }) | undefined {
    const entity = id === null ? undefined : entityType === "leads" ? state.leads.get(id) : state.contacts.get(id);
    if (!entity || entity.isDeleted) {
      errors.push({ code: "NotFound", path: "id", detail: "Entity not found" });
      return undefined;
    }
    if (body.name !== undefined && typeof body.name !== "string") errors.push({ code: "InvalidType", path: "name", detail: "This value should be of type string." });
    const fields = body.custom_fields_values === undefined ? [] : parseCustomFieldsWrite(state, entityType, body.custom_fields_values, errors) ?? [];
    const toAdd = body.tags_to_add === undefined ? [] : parseTagRefs(state, entityType, body.tags_to_add, "tags_to_add", errors);
    const toDelete = body.tags_to_delete === undefined ? [] : parseTagRefs(state, entityType, body.tags_to_delete, "tags_to_delete", errors);
    const embeddedTags = isRecord(body._embedded) && "tags" in body._embedded ? body._embedded.tags : undefined;
    const replaceTags = embeddedTags === undefined ? undefined : embeddedTags === null ? [] : parseTagRefs(state, entityType, embeddedTags, "_embedded.tags", errors);

    let move: { statusId: number; pipelineId: number } | undefined;
    if (entityType === "leads") {
      const lead = entity as KommoSimLead;
      if (body.price !== undefined && body.price !== null && intOf(body.price) === null) errors.push({ code: "InvalidType", path: "price", detail: "This value should be of type int." });
      if (body.status_id !== undefined || body.pipeline_id !== undefined) {
        const pipelineId = body.pipeline_id === undefined ? lead.pipelineId : intOf(body.pipeline_id);
        const pipeline = state.pipelines.find((p) => p.id === pipelineId);
        const statusId = body.status_id === undefined ? pipeline?.statuses[0]?.id : intOf(body.status_id);
        if (!pipeline) errors.push({ code: "NotSupportedChoice", path: "pipeline_id", detail: "The value you selected is not a valid choice." });
        else if (statusId === undefined || statusId === null || !pipeline.statuses.some((s) => s.id === statusId)) {
          errors.push({ code: "NotSupportedChoice", path: "status_id", detail: "The value you selected is not a valid choice." });
        } else move = { statusId, pipelineId: pipeline.id };
      }
    }

    return () => {
      if (typeof body.name === "string") entity.name = body.name;
      const fieldsBefore = snapshotFields(entity.customFields);
      for (const update of fields) setFieldValues(entity, update);
      events.fieldChanges({ type: entityType === "leads" ? "lead" : "contact", id: entity.id }, fieldsBefore, entity.customFields, by);
      if (replaceTags !== undefined) {
        entity.tags = [...new Map(replaceTags.map((ref) => resolveTag(state, entityType, ref)).map((t) => [t.id, t])).values()];
      } else {
        for (const tag of toAdd.map((ref) => resolveTag(state, entityType, ref))) if (!entity.tags.some((t) => t.id === tag.id)) entity.tags.push(tag);
        const drop = new Set(toDelete.map((ref) => resolveTag(state, entityType, ref).id));
        entity.tags = entity.tags.filter((t) => !drop.has(t.id));
      }
      let oldStatusId: number | undefined;
      if (entityType === "leads") {
        const lead = entity as KommoSimLead;
        if (body.price !== undefined) lead.price = body.price === null ? null : intOf(body.price);
        if (move && (move.statusId !== lead.statusId || move.pipelineId !== lead.pipelineId)) {
          oldStatusId = lead.statusId;
          setStatus(lead, move.statusId, move.pipelineId);
        }
      }
      entity.updatedAt = nowSec();
      return { oldStatusId };
    };
  }

  function afterPatch(entityType: KommoEntityType, id: number, result: { oldStatusId?: number }): void {
    if (entityType === "leads") void fireAll(leadEvents(state.leads.get(id)!, result.oldStatusId));
    else void fireAll([contactEvent(state.contacts.get(id)!, "update")]);
  }

  for (const entityType of ["leads", "contacts"] as const) {
    app.patch(`${API}/${entityType}/:id`, (req, res, next) => {
      const id = idParam(req);
      if (id === null) return next();
      const body: unknown = req.body;
      if (!isRecord(body) || Object.keys(body).length === 0) return emptyRequest(res);
      const errors: KommoFieldError[] = [];
      const apply = planPatch(entityType, id, body, errors);
      if (errors.length || !apply) return validationFailed(res, [{ requestId: "0", errors }]);
      const result = apply();
      const entity = (entityType === "leads" ? state.leads.get(id) : state.contacts.get(id))!;
      hal(res, 200, { id, updated_at: entity.updatedAt, _links: { self: { href: `${baseOf(req)}/${entityType}/${id}` } } });
      afterPatch(entityType, id, result);
    });

    app.patch(`${API}/${entityType}`, (req, res) => {
      const body: unknown = req.body;
      if (!Array.isArray(body) || body.length === 0) return isRecord(body) && Object.keys(body).length ? validationFailed(res, [{ requestId: "0", errors: [{ code: "InvalidType", path: "", detail: "This value should be of type array." }] }]) : emptyRequest(res);
      if (body.length > MAX_BATCH) return problem(res, 400, "Bad Request", `Maximum ${MAX_BATCH} entities per request`);
      const failures: Array<{ requestId: string; errors: KommoFieldError[] }> = [];
      const plans = body.map((item, i) => {
        const requestId = isRecord(item) && typeof item.request_id === "string" ? item.request_id : String(i);
        const errors: KommoFieldError[] = [];
        const entry = isRecord(item) ? item : {};
        const id = intOf(entry.id);
        const apply = planPatch(entityType, id, entry, errors);
        if (errors.length) failures.push({ requestId, errors });
        return { requestId, id, apply };
      });
      if (failures.length) return validationFailed(res, failures);
      const results = plans.map((plan) => ({ ...plan, result: plan.apply!() }));
      hal(res, 200, {
        _links: { self: { href: `${baseOf(req)}/${entityType}` } },
        _embedded: {
          [entityType]: results.map(({ id, requestId }) => ({
            id,
            updated_at: (entityType === "leads" ? state.leads.get(id!) : state.contacts.get(id!))!.updatedAt,
            request_id: requestId,
            _links: { self: { href: `${baseOf(req)}/${entityType}/${id}` } },
          })),
        },
      });
      for (const { id, result } of results) afterPatch(entityType, id!, result);
    });
  }

  /**
   * A batch write's body: a non-empty array of ≤ 250 items, each checked by `plan` (which pushes its
   * errors); Kommo refuses the whole batch if any item fails. Undefined once the error is answered.
   */
  function planBatch<T>(req: Request, res: Response, plan: (entry: Record<string, unknown>, index: number, errors: KommoFieldError[]) => T): Array<T & { requestId: string }> | undefined {
    const body: unknown = req.body;
    if (!Array.isArray(body) || body.length === 0) return void emptyRequest(res);
    if (body.length > MAX_BATCH) return void problem(res, 400, "Bad Request", `Maximum ${MAX_BATCH} entities per request`);
    const failures: Array<{ requestId: string; errors: KommoFieldError[] }> = [];
    const plans = body.map((item, i) => {
      const entry = isRecord(item) ? item : {};
      const requestId = typeof entry.request_id === "string" ? entry.request_id : String(i);
      const errors: KommoFieldError[] = [];
      const planned = plan(entry, i, errors);
      if (errors.length) failures.push({ requestId, errors });
      return { ...planned, requestId };
    });
    if (failures.length) return void validationFailed(res, failures);
    return plans;
  }

  function addNotes(req: Request, res: Response, entityType: KommoEntityType, pathEntityId: number | null): void {
    const drafts = planBatch(req, res, (entry, _i, errors) => {
      const entityId = pathEntityId ?? intOf(entry.entity_id);
      const entity = entityId === null ? undefined : entityType === "leads" ? state.leads.get(entityId) : state.contacts.get(entityId);
      if (!entity || entity.isDeleted) errors.push({ code: "NotFound", path: "entity_id", detail: "Entity not found" });
      const noteType = entry.note_type;
      if (typeof noteType !== "string" || !NOTE_TYPES.has(noteType)) errors.push({ code: "NotSupportedChoice", path: "note_type", detail: "The value you selected is not a valid choice." });
      const params = isRecord(entry.params) ? entry.params : {};
      if (noteType === "common" && (typeof params.text !== "string" || params.text.trim() === "")) {
        errors.push({ code: "NotBlank", path: "params.text", detail: "This value should not be blank." });
      }
      return { entityId: entityId ?? 0, noteType: String(noteType), params };
    });
    if (!drafts) return;
    const notes = drafts.map((draft) => {
      const note: KommoSimNote = { id: state.nextId.note++, entityType, entityId: draft.entityId, noteType: draft.noteType, params: draft.params, createdAt: nowSec() };
      state.notes.push(note);
      return note;
    });
    const created = notes.map((note, i) => ({ id: note.id, entity_id: note.entityId, request_id: drafts[i]!.requestId, _links: { self: { href: `${baseOf(req)}/${entityType}/${note.entityId}/notes/${note.id}` } } }));
    hal(res, 200, { _links: { self: { href: `${baseOf(req)}/${entityType}/notes` } }, _embedded: { notes: created } });
    // API writes fire the hooks subscribed to them, as the UI's do (vendor-apis.md §1.7).
    void fireAll(notes.map((note) => [entityType === "leads" ? "note_lead" : "note_contact", hookBody(state, entityType, "note", noteHookItem(state, note))]));
  }

  /** Edits notes in place (the SDK's `EntityNotes::update`): `[{id, note_type, params}]`, ≤ 250; the note keeps its id. */
  app.patch(`${API}/:entity/notes`, (req, res, next) => {
    const entityType = req.params.entity;
    if (entityType !== "leads" && entityType !== "contacts") return next();
    const edits = planBatch(req, res, (entry, _i, errors) => {
      const id = intOf(entry.id);
      const note = id === null ? undefined : state.notes.find((n) => n.id === id && n.entityType === entityType);
      if (!note) errors.push({ code: "NotFound", path: "id", detail: "Entity not found" });
      const params = isRecord(entry.params) ? entry.params : undefined;
      if (note?.noteType === "common" && params !== undefined && (typeof params.text !== "string" || params.text.trim() === "")) {
        errors.push({ code: "NotBlank", path: "params.text", detail: "This value should not be blank." });
      }
      return { note, params };
    });
    if (!edits) return;
    const updated = edits.map(({ requestId, note, params }) => {
      if (params) note!.params = { ...note!.params, ...params };
      note!.updatedAt = nowSec();
      return { id: note!.id, entity_id: note!.entityId, updated_at: note!.updatedAt, request_id: requestId, _links: { self: { href: `${baseOf(req)}/${entityType}/${note!.entityId}/notes/${note!.id}` } } };
    });
    hal(res, 200, { _links: { self: { href: `${baseOf(req)}/${entityType}/notes` } }, _embedded: { notes: updated } });
  });

  app.post(`${API}/:entity/notes`, (req, res, next) => {
    const entity = req.params.entity;
    if (entity !== "leads" && entity !== "contacts") return next();
    addNotes(req, res, entity, null);
  });

  app.post(`${API}/:entity/:id/notes`, (req, res, next) => {
    const entity = req.params.entity;
    const id = idParam(req);
    if ((entity !== "leads" && entity !== "contacts") || id === null) return next();
    addNotes(req, res, entity, id);
  });

  app.get(`${API}/:entity/:id/notes`, (req, res, next) => {
    const entity = req.params.entity;
    const id = idParam(req);
    if ((entity !== "leads" && entity !== "contacts") || id === null) return next();
    const filter = isRecord(req.query.filter) ? req.query.filter : {};
    const types = new Set(listOf(filter.note_type).map(String));
    const within = updatedWithin(filter);
    const notes = state.notes
      .filter((n) => n.entityType === entity && n.entityId === id && (types.size === 0 || types.has(n.noteType)) && within(n.updatedAt ?? n.createdAt))
      .map((n) => ({ ...n, updatedAt: n.updatedAt ?? n.createdAt }));
    listPage(req, res, orderBy(notes, req.query.order), "notes", (n) => ({
      id: n.id,
      entity_id: n.entityId,
      created_by: SEED.kommo.responsibleUserId,
      updated_by: SEED.kommo.responsibleUserId,
      created_at: n.createdAt,
      updated_at: n.updatedAt,
      responsible_user_id: SEED.kommo.responsibleUserId,
      group_id: 0,
      note_type: n.noteType,
      params: n.params,
      account_id: SEED.kommo.accountId,
      _links: { self: { href: `${baseOf(req)}/${entity}/${n.entityId}/notes/${n.id}` } },
    }));
  });

  app.get(`${API}/tasks`, (req, res) => {
    const filter = isRecord(req.query.filter) ? req.query.filter : {};
    const entityType = typeof filter.entity_type === "string" ? filter.entity_type : null;
    const entityIds = new Set(listOf(filter.entity_id).map(intOf));
    const completed = filter.is_completed === undefined ? null : String(filter.is_completed) === "1";
    const within = updatedWithin(filter);
    const tasks = state.tasks
      .filter(
        (t) =>
          (entityType === null || t.entityType === entityType) &&
          (entityIds.size === 0 || (t.entityId !== null && entityIds.has(t.entityId))) &&
          (completed === null || t.isCompleted === completed) &&
          within(t.createdAt),
      )
      .map((t) => ({ ...t, updatedAt: t.createdAt }));
    listPage(req, res, orderBy(tasks, req.query.order), "tasks", (t) => ({
      id: t.id,
      created_by: SEED.kommo.responsibleUserId,
      updated_by: SEED.kommo.responsibleUserId,
      created_at: t.createdAt,
      updated_at: t.updatedAt,
      responsible_user_id: t.responsibleUserId,
      group_id: 0,
      entity_id: t.entityId,
      entity_type: t.entityType,
      is_completed: t.isCompleted,
      task_type_id: t.taskTypeId,
      text: t.text,
      duration: 0,
      complete_till: t.completeTill,
      result: [],
      account_id: SEED.kommo.accountId,
      _links: { self: { href: `${baseOf(req)}/tasks/${t.id}` } },
    }));
  });

  app.post(`${API}/tasks`, (req, res) => {
    const body: unknown = req.body;
    if (!Array.isArray(body) || body.length === 0) return emptyRequest(res);
    if (body.length > MAX_BATCH) return problem(res, 400, "Bad Request", `Maximum ${MAX_BATCH} entities per request`);
    const failures: Array<{ requestId: string; errors: KommoFieldError[] }> = [];
    const drafts = body.map((item, i) => {
      const entry = isRecord(item) ? item : {};
      const requestId = typeof entry.request_id === "string" ? entry.request_id : String(i);
      const errors: KommoFieldError[] = [];
      if (typeof entry.text !== "string" || entry.text.trim() === "") errors.push({ code: "NotBlank", path: "text", detail: "This value should not be blank." });
      if (entry.complete_till === undefined) errors.push({ code: "NotBlank", path: "complete_till", detail: "This value should not be blank." });
      else if (typeof entry.complete_till !== "number" || !Number.isSafeInteger(entry.complete_till)) {
        errors.push({ code: "InvalidType", path: "complete_till", detail: "This value should be of type int." });
      }
      const entityType = entry.entity_type === undefined ? null : entry.entity_type;
      let entityId: number | null = null;
      if (entityType !== null) {
        if (entityType !== "leads" && entityType !== "contacts") {
          errors.push({ code: "NotSupportedChoice", path: "entity_type", detail: "The value you selected is not a valid choice." });
        } else {
          entityId = intOf(entry.entity_id);
          const entity = entityId === null ? undefined : entityType === "leads" ? state.leads.get(entityId) : state.contacts.get(entityId);
          if (!entity || entity.isDeleted) errors.push({ code: "NotFound", path: "entity_id", detail: "Entity not found" });
        }
      }
      const taskTypeId = entry.task_type_id === undefined ? 1 : intOf(entry.task_type_id);
      if (taskTypeId !== 1 && taskTypeId !== 2) errors.push({ code: "NotSupportedChoice", path: "task_type_id", detail: "The value you selected is not a valid choice." });
      const responsibleUserId = entry.responsible_user_id === undefined ? SEED.kommo.responsibleUserId : intOf(entry.responsible_user_id);
      if (responsibleUserId !== SEED.kommo.responsibleUserId) {
        errors.push({ code: "NotSupportedChoice", path: "responsible_user_id", detail: "The value you selected is not a valid choice." });
      }
      if (errors.length) failures.push({ requestId, errors });
      return { requestId, entry, entityType: entityType as KommoEntityType | null, entityId, taskTypeId: taskTypeId ?? 1 };
    });
    if (failures.length) return validationFailed(res, failures);
    const created = drafts.map((draft) => {
      const task: KommoSimTask = {
        id: state.nextId.task++, entityType: draft.entityType, entityId: draft.entityId, text: String(draft.entry.text),
        completeTill: Number(draft.entry.complete_till), taskTypeId: draft.taskTypeId, responsibleUserId: SEED.kommo.responsibleUserId,
        isCompleted: false, createdAt: nowSec(),
      };
      state.tasks.push(task);
      return { id: task.id, request_id: draft.requestId, _links: { self: { href: `${baseOf(req)}/tasks/${task.id}` } } };
    });
    hal(res, 200, { _links: { self: { href: `${baseOf(req)}/tasks` } }, _embedded: { tasks: created } });
  });

  /**
   * Kommo's events feed, newest first. `filter[type]` and `filter[entity]` take a list or a
   * comma-separated string; `filter[entity_id]` at most 10 ids.
   * @see https://developers.kommo.com/reference/events-and-notes
   */
  app.get(`${API}/events`, (req, res) => {
    const filter = isRecord(req.query.filter) ? req.query.filter : {};
    const names = (value: unknown) => new Set(listOf(value).flatMap((v) => String(v).split(",")).map((v) => v.trim()).filter(Boolean));
    const types = names(filter.type);
    const entities = new Set([...names(filter.entity)].map((e) => e.replace(/s$/, "")));
    const entityIds = new Set(listOf(filter.entity_id).map(intOf));
    if (entityIds.size > 10) {
      return validationFailed(res, [{ requestId: "0", errors: [{ code: "TooManyValues", path: "filter.entity_id", detail: "This collection should contain 10 elements or less." }] }]);
    }
    const range = isRecord(filter.created_at) ? filter.created_at : {};
    const from = intOf(range.from);
    const to = intOf(range.to);
    const found = events.events.filter(
      (e) =>
        (types.size === 0 || types.has(e.type)) &&
        (entities.size === 0 || entities.has(e.entity_type)) &&
        (entityIds.size === 0 || entityIds.has(e.entity_id)) &&
        (from === null || e.created_at >= from) &&
        (to === null || e.created_at <= to),
    );
    const newestFirst = [...found].reverse().sort((a, b) => b.created_at - a.created_at);
    listPage(req, res, newestFirst, "events", (e) => ({ ...e, _links: { self: { href: `${baseOf(req)}/events/${e.id}` } } }));
  });

  app.get(`${API}/webhooks`, (req, res) => {
    const filter = isRecord(req.query.filter) ? req.query.filter : {};
    const destination = typeof filter.destination === "string" ? filter.destination : undefined;
    const hooks = state.webhooks.filter((h) => destination === undefined || h.destination === destination);
    if (hooks.length === 0) return void res.status(204).end();
    hal(res, 200, {
      _total_items: hooks.length,
      _links: { self: { href: `${baseOf(req)}/webhooks` } },
      _embedded: { webhooks: hooks.map((h) => renderWebhook(state, h)) },
    });
  });

  app.post(`${API}/webhooks`, (req, res) => {
    const body: unknown = req.body;
    if (!isRecord(body) || Object.keys(body).length === 0) return emptyRequest(res);
    const errors: KommoFieldError[] = [];
    const destination = typeof body.destination === "string" ? body.destination : "";
    if (!/^https?:\/\/[^\s]+$/i.test(destination)) errors.push({ code: "InvalidUrl", path: "destination", detail: "This value is not a valid URL." });
    const settings = Array.isArray(body.settings) ? body.settings : [];
    if (settings.length === 0) errors.push({ code: "NotBlank", path: "settings", detail: "This value should not be blank." });
    settings.forEach((s, i) => {
      if (!KOMMO_WEBHOOK_SETTINGS.includes(s as KommoWebhookSetting)) errors.push({ code: "NotSupportedChoice", path: `settings.${i}`, detail: "The value you selected is not a valid choice." });
    });
    if (errors.length) return validationFailed(res, [{ requestId: "0", errors }]);
    const existing = state.webhooks.find((h) => h.destination === destination);
    if (!existing && state.webhooks.length >= MAX_WEBHOOKS) return problem(res, 400, "Bad Request", `Maximum ${MAX_WEBHOOKS} webhooks per account`);
    const hook = existing ?? addWebhook(destination, []);
    hook.settings = [...new Set(settings as KommoWebhookSetting[])];
    hook.disabled = false; // saving a hook again is how an admin re-enables it
    hook.invalidAt = [];
    hook.updatedAt = nowSec();
    hal(res, 201, renderWebhook(state, hook));
  });

  app.delete(`${API}/webhooks`, (req, res) => {
    const body: unknown = req.body;
    if (!isRecord(body) || typeof body.destination !== "string") return emptyRequest(res);
    state.webhooks = state.webhooks.filter((h) => h.destination !== body.destination);
    res.status(204).end();
  });

  app.use((req, res) => {
    problem(res, 404, "Not Found", `Cannot ${req.method} https://${state.account.subdomain}.kommo.com${req.path}`);
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: unknown }).status;
    if (status === 400) return problem(res, 400, "Bad Request", "Syntax error");
    if (status === 413) return problem(res, 413, "Payload Too Large", "Request entity too large");
    answerError(res, 500);
  });

  function addWebhook(destination: string, settings: KommoWebhookSetting[]): KommoSimWebhook {
    const t = nowSec();
    const hook: KommoSimWebhook = { id: state.nextId.webhook++, destination, settings: [...settings], disabled: false, createdAt: t, updatedAt: t, invalidAt: [] };
    state.webhooks.push(hook);
    return hook;
  }

  async function updateContacts(changes: Array<KommoSimContactChange & { contactId: number }>): Promise<KommoSimContact[]> {
    const contacts = changes.map(({ contactId, ...change }) => {
      const contact = requireContact(contactId);
      if (change.name !== undefined) contact.name = change.name;
      const fieldsBefore = snapshotFields(contact.customFields);
      for (const update of contactFields({ email: change.email, emails: change.emails, company: change.company, optIn: change.optIn })) setFieldValues(contact, update);
      events.fieldChanges({ type: "contact", id: contact.id }, fieldsBefore, contact.customFields, by);
      contact.updatedAt = nowSec();
      return contact;
    });
    await fireAll([["update_contact", hookBody(state, "contacts", "update", contacts.map((contact) => contactHookItem(state, contact)))]]);
    return contacts;
  }

  const server = await startServer(app, options.port ?? 0);

  return {
    url: server.url,
    state,
    faults,
    requests,
    seeded: KOMMO_SIM_SEEDED,

    async addContact(input) {
      const contact = createContact(input);
      await fireAll([contactEvent(contact, "add")]);
      return contact;
    },

    async addLead(input = {}) {
      const pipeline = pipelineOf(input.pipelineId ?? SEED.kommo.pipelineId);
      const statusId = input.statusId ?? pipeline.statuses[0]!.id;
      if (!pipeline.statuses.some((s) => s.id === statusId)) throw new Error(`kommo simulator: pipeline ${pipeline.id} has no status ${statusId}`);
      let newContact: KommoSimContact | undefined;
      if (input.contactId === undefined && (input.contact || input.email !== undefined)) {
        newContact = createContact(input.contact ?? { name: input.email!.split("@")[0]!, email: input.email });
      }
      const contactId = input.contactId ?? newContact?.id;
      if (contactId !== undefined) requireContact(contactId);
      const id = input.id ?? state.nextId.lead++;
      if (state.leads.has(id)) throw new Error(`kommo simulator: lead ${id} exists`);
      const t = nowSec();
      const lead: KommoSimLead = {
        id, name: input.name ?? `Lead #${id}`, price: input.price !== undefined ? input.price : (input.budget ?? null),
        responsibleUserId: SEED.kommo.responsibleUserId, pipelineId: pipeline.id, statusId, createdAt: t, updatedAt: t,
        closedAt: statusId === 142 || statusId === 143 ? t : null, isDeleted: false,
        customFields: input.budget === undefined ? [] : [{ fieldId: KOMMO_SIM_FIELDS.budget, values: [{ value: String(input.budget) }] }],
        tags: [], contacts: contactId === undefined ? [] : [{ id: contactId, isMain: true }],
      };
      state.leads.set(id, lead);
      events.leadStatus(id, { statusId, pipelineId: pipeline.id }, null, by);
      await fireAll([
        ["add_lead", hookBody(state, "leads", "add", leadHookItem(state, lead))],
        ...(newContact ? [contactEvent(newContact, "add")] : []),
      ]);
      return lead;
    },

    async moveLead(leadId, statusId, pipelineId) {
      const lead = requireLead(leadId);
      const pipeline = pipelineOf(pipelineId ?? lead.pipelineId);
      if (!pipeline.statuses.some((s) => s.id === statusId)) throw new Error(`kommo simulator: pipeline ${pipeline.id} has no status ${statusId}`);
      const oldStatusId = lead.statusId;
      setStatus(lead, statusId, pipeline.id);
      lead.updatedAt = nowSec();
      await fireAll(leadEvents(lead, oldStatusId));
      return lead;
    },

    updateContact: async (contactId, change) => (await updateContacts([{ contactId, ...change }]))[0]!,
    updateContacts,

    async deleteLead(leadId) {
      const lead = requireLead(leadId);
      lead.isDeleted = true;
      lead.updatedAt = nowSec();
      events.record("lead_deleted", { type: "lead", id: lead.id }, { by });
      await fireAll([["delete_lead", hookBody(state, "leads", "delete", { id: lead.id, status_id: lead.statusId, pipeline_id: lead.pipelineId })]]);
    },

    async addCompany(name) {
      const company = { id: nextCompanyId++, name, createdAt: nowSec() };
      await fireAll([["add_company", hookBody(state, "contacts", "add", companyHookItem(state, company))]]);
      return { id: company.id };
    },

    async addTask(leadId, text) {
      requireLead(leadId);
      const t = nowSec();
      const task: KommoSimTask = {
        id: state.nextId.task++, entityType: "leads", entityId: leadId, text, completeTill: t + 86_400, taskTypeId: 1,
        responsibleUserId: SEED.kommo.responsibleUserId, isCompleted: false, createdAt: t,
      };
      state.tasks.push(task);
      await fireAll([["add_task", hookBody(state, "task", "add", taskHookItem(state, task))]]);
      return task;
    },

    async addNote(leadId, text) {
      requireLead(leadId);
      const note: KommoSimNote = { id: state.nextId.note++, entityType: "leads", entityId: leadId, noteType: "common", params: { text }, createdAt: nowSec() };
      state.notes.push(note);
      await fireAll([["note_lead", hookBody(state, "leads", "note", noteHookItem(state, note))]]);
      return note;
    },

    async deleteContact(contactId) {
      const contact = requireContact(contactId);
      contact.isDeleted = true;
      contact.updatedAt = nowSec();
      events.record("contact_deleted", { type: "contact", id: contact.id }, { by });
      await fireAll([["delete_contact", hookBody(state, "contacts", "delete", { id: contact.id, type: "contact" })]]);
    },

    async mergeContacts(survivorId, loserId) {
      await fireAll(mergeContacts(state, events, { survivorId, loserId }, { nowSec: nowSec(), by }));
    },

    events,
    webhookFaults,
    droppedChanges: () => dropped,

    async sendLateDuplicates() {
      const held = lateDuplicates;
      lateDuplicates = [];
      await Promise.all(held.map((hooks) => deliverAll(hooks)));
      return held.length;
    },

    addWebhook,
    notesFor: (entityType, id) => state.notes.filter((n) => n.entityType === entityType && n.entityId === id),
    tasksFor: (entityType, id) => state.tasks.filter((t) => t.entityType === entityType && t.entityId === id),
    contact: (id) => state.contacts.get(id),
    lead: (id) => state.leads.get(id),
    fieldValues: (entity, fieldId) => entity.customFields.find((f) => f.fieldId === fieldId)?.values.map((v) => v.value) ?? [],

    async settled() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },

    close: () => server.close(),
  };
}
