import type { AxiosInstance, AxiosResponse } from "axios";
import qs from "qs";
import { normalizeEmail } from "@funnelsync/config";
import { apiIdOf, ValidationError, createVendorError, createVendorHttp, type Admission, type RequestGate, type VendorHttpOptions } from "@funnelsync/vendor-http";
import {
  embedded,
  toKommoContact,
  toKommoCustomField,
  toKommoLead,
  toKommoPipeline,
  type KommoContact,
  type KommoCustomField,
  type KommoLead,
  type KommoPipeline,
} from "./kommoEntities";
import { toKommoEvent, toKommoWebhook, type KommoEvent, type KommoWebhook } from "./kommoEvents";
import { KOMMO_MAX_PAGE } from "./limits";

/** Kommo lists custom fields at most 50 per page. */
const CUSTOM_FIELDS_PAGE = 50;

export interface KommoClientOptions {
  /** The account's own host, e.g. `https://acme.kommo.com`; the client adds `/api/v4`. */
  baseUrl: string;
  /** A long-lived token of a private integration. */
  accessToken: string;
  http?: Pick<VendorHttpOptions, "gate" | "observe" | "retryBaseDelayMs" | "timeoutMs" | "retries">;
}

export interface KommoContactUpdate {
  name?: string;
  /** Replaces each named field's values; checkbox fields take booleans. */
  customFields?: Array<{ fieldId: number; value: string | number | boolean }>;
  /** Added to the contact's tags; tags it already has stay. */
  tagsToAdd?: string[];
}

export interface KommoTaskInput {
  text: string;
  /** A Date, or unix seconds. */
  completeTill: Date | number;
  entityType: "leads" | "contacts";
  entityId: number;
  responsibleUserId?: number;
  /** 1 = follow-up (Kommo's default), 2 = meeting, or an account's own type. */
  taskTypeId?: number;
}

type EntityType = "leads" | "contacts";
const ENTITY_TYPES: readonly EntityType[] = ["leads", "contacts"];

function assertId(id: unknown, what: string): asserts id is number {
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id <= 0) {
    throw new ValidationError("kommo", `${what} must be a positive integer (got ${JSON.stringify(id)})`);
  }
}

function assertEntityType(entityType: unknown): asserts entityType is EntityType {
  if (!ENTITY_TYPES.includes(entityType as EntityType)) {
    throw new ValidationError("kommo", `entityType must be "leads" or "contacts" (got ${JSON.stringify(entityType)})`);
  }
}

function uniqueIds(ids: readonly number[], what: string): number[] {
  if (!Array.isArray(ids)) throw new ValidationError("kommo", `${what} must be an array of ids`);
  for (const id of ids) assertId(id, what);
  return [...new Set(ids)];
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function idsAndTexts(items: unknown[], textOf: (item: unknown) => unknown): Array<{ id: number; text: string }> {
  return items.flatMap((item) => {
    const id = (item as { id?: unknown }).id;
    const text = textOf(item);
    return typeof id === "number" && typeof text === "string" ? [{ id, text }] : [];
  });
}

/** PHP-style bracket parameters, as Kommo reads them (`filter[id][]=1&filter[id][]=2`). */
function query(params: Record<string, unknown>): string {
  return qs.stringify(params, { arrayFormat: "brackets", encodeValuesOnly: true });
}

/** Kommo puts `retry_after` (seconds) in the 429's body and sends no `Retry-After` header. */
export function kommoRetryAfterMs(response: AxiosResponse): number | undefined {
  let body: unknown = response.data;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined; // a non-JSON 429 (an nginx page): the factory falls back to its default wait
    }
  }
  if (typeof body !== "object" || body === null) return undefined;
  const raw = (body as Record<string, unknown>).retry_after;
  const seconds = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/**
 * Kommo API v4 for one account. Reads answer 204 with no body when nothing matches, which this
 * client turns into `null` or empty results. Writes have no idempotency: PATCHes are safe to repeat
 * and retried inline; POSTs (notes, tasks) never are, since a repeat duplicates them.
 * @see https://developers.kommo.com/reference/kommo-api-reference
 */
export class KommoClient {
  private readonly http: AxiosInstance;
  private readonly gate: RequestGate | undefined;
  /** Names the account (a hash of its base URL), for state kept per account such as the events watermark. */
  readonly apiId: string;

  constructor(options: KommoClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new ValidationError("kommo", `baseUrl must be an absolute URL (got ${JSON.stringify(options.baseUrl)})`);
    }
    if (base.protocol !== "https:" && base.protocol !== "http:") {
      throw new ValidationError("kommo", `baseUrl must be an http(s) URL (got ${JSON.stringify(options.baseUrl)})`);
    }
    if (typeof options.accessToken !== "string" || options.accessToken.trim() === "") {
      throw new ValidationError("kommo", "accessToken must be a non-empty string");
    }
    const root = base.href.replace(/\/+$/, "").replace(/\/api\/v4$/, "");
    this.gate = options.http?.gate;
    this.apiId = apiIdOf(root);
    this.http = createVendorHttp({
      ...options.http,
      vendor: "kommo",
      baseURL: `${root}/api/v4`,
      headers: {
        Authorization: `Bearer ${options.accessToken}`,
        Accept: "application/hal+json, application/problem+json, application/json",
      },
      defaultLimitKey: "default",
      retryAfterMsFrom: kommoRetryAfterMs,
      // After repeated 429s Kommo blocks the IP: 403 on every call (often nginx's HTML page), lifted by its support.
      blockedBy: (response) => response.status === 403,
    });
  }

  /**
   * Leads with their contact links, ≤ 250 ids per request (`filter[id][]` + `with=contacts`).
   * Ids Kommo does not know (or deleted leads) are simply absent from the map.
   * @see https://developers.kommo.com/reference/leads-list
   */
  async getLeads(ids: readonly number[], admitted?: Admission): Promise<Map<number, KommoLead>> {
    return this.listByIds("leads", uniqueIds(ids, "lead id"), "contacts", toKommoLead, admitted);
  }

  /**
   * Waits for a request slot under Kommo's limit and holds it for one `getLeads` or `getContacts`
   * call given it: a batching caller decides which ids go in only once the slot is there.
   */
  async admit(): Promise<Admission> {
    const release = this.gate ? await this.gate("kommo", "default") : undefined;
    return { release: release || undefined };
  }

  /**
   * Contacts with their lead links, ≤ 250 ids per request; unknown ids are absent from the map.
   * @see https://developers.kommo.com/reference/contacts-list
   */
  async getContacts(ids: readonly number[], admitted?: Admission): Promise<Map<number, KommoContact>> {
    return this.listByIds("contacts", uniqueIds(ids, "contact id"), "leads", toKommoContact, admitted);
  }

  /** `filter[id][]` look-ups, ≤ 250 ids per request; what Kommo does not return is absent. */
  private async listByIds<T extends { id: number }>(
    entity: EntityType,
    ids: number[],
    withLinks: string,
    parse: (raw: unknown) => T | null,
    admitted?: Admission,
  ): Promise<Map<number, T>> {
    const found = new Map<number, T>();
    for (const [i, chunk] of chunks(ids, KOMMO_MAX_PAGE).entries()) {
      const params = { filter: { id: chunk }, with: withLinks, limit: KOMMO_MAX_PAGE };
      const response = await this.http.get(`/${entity}?${query(params)}`, { funnelsync: { admitted: i === 0 ? admitted : undefined } });
      for (const raw of embedded(response.data, entity)) {
        const item = parse(raw);
        if (item) found.set(item.id, item);
      }
    }
    return found;
  }

  /**
   * Contacts whose EMAIL field holds exactly this address (case-insensitive, trimmed). Kommo's
   * `query` is a fuzzy search over names and every field, so its hits are filtered here; several
   * contacts may share one address, and all of them are returned.
   * @see https://developers.kommo.com/reference/contacts-list
   */
  async findContactsByEmail(email: string): Promise<KommoContact[]> {
    const wanted = typeof email === "string" ? normalizeEmail(email) : "";
    if (!wanted.includes("@")) throw new ValidationError("kommo", `not an e-mail address: ${JSON.stringify(email)}`);
    const response = await this.http.get(`/contacts?${query({ query: wanted, with: "leads", limit: KOMMO_MAX_PAGE })}`);
    return embedded(response.data, "contacts")
      .map(toKommoContact)
      .filter((c): c is KommoContact => c !== null && c.emails.some((e) => normalizeEmail(e) === wanted));
  }

  /**
   * Sets the name and the given fields' values, and adds tags without detaching the others
   * (`tags_to_add`). A PATCH of values is repeatable, so it is retried inline on transient failures.
   * @see https://developers.kommo.com/reference/update-contact
   */
  async updateContact(id: number, update: KommoContactUpdate): Promise<{ id: number; updatedAt: number | null }> {
    assertId(id, "contact id");
    const body: Record<string, unknown> = {};
    if (update.name !== undefined) {
      if (typeof update.name !== "string") throw new ValidationError("kommo", "name must be a string");
      body.name = update.name;
    }
    if (update.customFields?.length) {
      body.custom_fields_values = update.customFields.map(({ fieldId, value }) => {
        assertId(fieldId, "fieldId");
        if (!["string", "number", "boolean"].includes(typeof value)) {
          throw new ValidationError("kommo", `field ${fieldId} needs a string, number or boolean value`);
        }
        return { field_id: fieldId, values: [{ value }] };
      });
    }
    if (update.tagsToAdd?.length) {
      body.tags_to_add = update.tagsToAdd.map((name) => {
        if (typeof name !== "string" || name.trim() === "") throw new ValidationError("kommo", "tag names must be non-empty strings");
        return { name };
      });
    }
    if (Object.keys(body).length === 0) throw new ValidationError("kommo", "updateContact needs a name, custom fields or tags");
    const response = await this.http.patch(`/contacts/${id}`, body, { funnelsync: { idempotent: true } });
    const data = response.data as { id?: unknown; updated_at?: unknown } | undefined;
    return { id, updatedAt: typeof data?.updated_at === "number" ? data.updated_at : null };
  }

  /**
   * Adds "common" notes (≤ 250 per call) and returns their ids in the order given. Kommo has no
   * idempotency: a repeated POST makes duplicates, so this request is never retried inline.
   * @see https://developers.kommo.com/reference/add-notes
   */
  async addNotes(entityType: EntityType, notes: ReadonlyArray<{ entityId: number; text: string }>): Promise<number[]> {
    assertEntityType(entityType);
    if (!Array.isArray(notes)) throw new ValidationError("kommo", "notes must be an array");
    if (notes.length > KOMMO_MAX_PAGE) throw new ValidationError("kommo", `at most ${KOMMO_MAX_PAGE} notes per call (got ${notes.length})`);
    if (notes.length === 0) return [];
    const body = notes.map(({ entityId, text }, index) => {
      assertId(entityId, "entityId");
      if (typeof text !== "string" || text.trim() === "") throw new ValidationError("kommo", "a note needs a non-empty text");
      return { entity_id: entityId, note_type: "common", params: { text }, request_id: String(index) };
    });
    const response = await this.http.post(`/${entityType}/notes`, body);
    return this.idsByRequest(response, "notes", body, `POST /${entityType}/notes`);
  }

  /**
   * Creates one task and returns its id. Not retried inline (a repeat makes a second task).
   * @see https://developers.kommo.com/reference/add-tasks
   */
  async addTask(task: KommoTaskInput): Promise<number> {
    return (await this.addTasks([task]))[0]!;
  }

  /**
   * Creates tasks (≤ 250 per call) and returns their ids in the order given. Not retried inline.
   * @see https://developers.kommo.com/reference/add-tasks
   */
  async addTasks(tasks: readonly KommoTaskInput[]): Promise<number[]> {
    if (!Array.isArray(tasks)) throw new ValidationError("kommo", "tasks must be an array");
    if (tasks.length > KOMMO_MAX_PAGE) throw new ValidationError("kommo", `at most ${KOMMO_MAX_PAGE} tasks per call (got ${tasks.length})`);
    if (tasks.length === 0) return [];
    const body = tasks.map((task, index) => {
      if (typeof task.text !== "string" || task.text.trim() === "") throw new ValidationError("kommo", "a task needs a non-empty text");
      assertEntityType(task.entityType);
      assertId(task.entityId, "entityId");
      const completeTill = task.completeTill instanceof Date ? Math.floor(task.completeTill.getTime() / 1000) : task.completeTill;
      assertId(completeTill, "completeTill (unix seconds)");
      if (task.responsibleUserId !== undefined) assertId(task.responsibleUserId, "responsibleUserId");
      if (task.taskTypeId !== undefined) assertId(task.taskTypeId, "taskTypeId");
      return {
        text: task.text,
        complete_till: completeTill,
        entity_type: task.entityType,
        entity_id: task.entityId,
        ...(task.taskTypeId !== undefined && { task_type_id: task.taskTypeId }),
        ...(task.responsibleUserId !== undefined && { responsible_user_id: task.responsibleUserId }),
        request_id: String(index),
      };
    });
    const response = await this.http.post("/tasks", body);
    return this.idsByRequest(response, "tasks", body, "POST /tasks");
  }

  /**
   * Replaces the text of common notes (≤ 250 per call), keeping their ids. A PATCH of a note's text
   * is repeatable, so it is retried inline.
   * @see https://developers.kommo.com/reference/edit-notes
   */
  async updateNotes(entityType: EntityType, notes: ReadonlyArray<{ id: number; text: string }>): Promise<void> {
    assertEntityType(entityType);
    if (notes.length > KOMMO_MAX_PAGE) throw new ValidationError("kommo", `at most ${KOMMO_MAX_PAGE} notes per call (got ${notes.length})`);
    if (notes.length === 0) return;
    const body = notes.map(({ id, text }) => {
      assertId(id, "note id");
      if (typeof text !== "string" || text.trim() === "") throw new ValidationError("kommo", "a note needs a non-empty text");
      return { id, note_type: "common", params: { text } };
    });
    await this.http.patch(`/${entityType}/notes`, body, { funnelsync: { idempotent: true } });
  }

  /**
   * Sets custom field values on many leads or contacts (≤ 250 per call, `PATCH /{entity}` with an
   * array). Values are written, never added to, so a repeat is harmless and retried inline. Returns
   * the `updated_at` Kommo gave each entity it answered for: the time its `update_*` webhook carries.
   * @see https://developers.kommo.com/reference/update-leads
   */
  async updateFieldValues(
    entityType: EntityType,
    updates: ReadonlyArray<{ id: number; customFields: Array<{ fieldId: number; value: string | number | boolean }> }>,
  ): Promise<Array<{ id: number; updatedAt: number }>> {
    assertEntityType(entityType);
    if (updates.length > KOMMO_MAX_PAGE) throw new ValidationError("kommo", `at most ${KOMMO_MAX_PAGE} entities per call (got ${updates.length})`);
    if (updates.length === 0) return [];
    const body = updates.map(({ id, customFields }, index) => {
      assertId(id, `${entityType} id`);
      return {
        id,
        custom_fields_values: customFields.map(({ fieldId, value }) => {
          assertId(fieldId, "fieldId");
          return { field_id: fieldId, values: [{ value }] };
        }),
        request_id: String(index),
      };
    });
    const response = await this.http.patch(`/${entityType}`, body, { funnelsync: { idempotent: true } });
    return embedded(response.data, entityType).flatMap((raw) => {
      const { id, updated_at: updatedAt } = (raw ?? {}) as { id?: unknown; updated_at?: unknown };
      return typeof id === "number" && typeof updatedAt === "number" ? [{ id, updatedAt }] : [];
    });
  }

  /**
   * The ids of open tasks (not completed) on these leads or contacts, ≤ 250 entities per call.
   * (`GET /api/v4/tasks`; 204 when there are none.)
   */
  async openTaskIds(entityType: EntityType, entityIds: readonly number[]): Promise<Set<number>> {
    assertEntityType(entityType);
    const ids = uniqueIds(entityIds, "entityId");
    const open = new Set<number>();
    for (const chunk of chunks(ids, KOMMO_MAX_PAGE)) {
      const filter = { entity_type: entityType, entity_id: chunk, is_completed: 0 };
      const response = await this.http.get(`/tasks?${query({ filter, limit: KOMMO_MAX_PAGE })}`);
      for (const task of embedded(response.data, "tasks")) {
        const id = (task as { id?: unknown }).id;
        if (typeof id === "number") open.add(id);
      }
    }
    return open;
  }

  /** Matches a batch POST's answer to its items by `request_id`; every item must have an id. */
  private idsByRequest(response: AxiosResponse, key: string, body: ReadonlyArray<{ request_id: string }>, what: string): number[] {
    const created = embedded(response.data, key) as Array<{ id?: unknown; request_id?: unknown }>;
    const ids = body.map((item) => created.find((c) => String(c.request_id) === item.request_id)?.id);
    if (!ids.every((id): id is number => typeof id === "number")) {
      throw createVendorError({
        vendor: "kommo",
        status: response.status,
        what,
        detail: `the answer does not name every item created`,
        body: response.data,
        retryable: false,
      });
    }
    return ids;
  }

  /**
   * The texts of the common notes on one lead or contact added or changed since `since` (newest
   * first, one page of 250). Kommo has no idempotency key and a repeated POST duplicates a note, so a
   * writer that may have added one already (an earlier attempt that lost its answer) looks here first.
   * (`GET /api/v4/{entity_type}/{entity_id}/notes`; 204 when there are none.)
   */
  async recentNoteTexts(entityType: EntityType, entityId: number, since: Date): Promise<string[]> {
    return (await this.recentNotes(entityType, entityId, since)).map((note) => note.text);
  }

  /** As `recentNoteTexts`, with each note's id. */
  async recentNotes(entityType: EntityType, entityId: number, since: Date): Promise<Array<{ id: number; text: string }>> {
    assertEntityType(entityType);
    assertId(entityId, "entityId");
    const params = { filter: { note_type: ["common"], updated_at: { from: Math.floor(since.getTime() / 1000) } }, order: { updated_at: "desc" }, limit: KOMMO_MAX_PAGE };
    const response = await this.http.get(`/${entityType}/${entityId}/notes?${query(params)}`);
    return idsAndTexts(embedded(response.data, "notes"), (note) => (note as { params?: { text?: unknown } }).params?.text);
  }

  /**
   * The texts of the open tasks on one lead or contact added or changed since `since` (one page of
   * 250), for the same reason as `recentNoteTexts`. (`GET /api/v4/tasks`; 204 when there are none.)
   */
  async recentOpenTaskTexts(entityType: EntityType, entityId: number, since: Date): Promise<string[]> {
    return (await this.recentOpenTasks(entityType, entityId, since)).map((task) => task.text);
  }

  /** As `recentOpenTaskTexts`, with each task's id. */
  async recentOpenTasks(entityType: EntityType, entityId: number, since: Date): Promise<Array<{ id: number; text: string }>> {
    assertEntityType(entityType);
    assertId(entityId, "entityId");
    const filter = { entity_type: entityType, entity_id: [entityId], is_completed: 0, updated_at: { from: Math.floor(since.getTime() / 1000) } };
    const response = await this.http.get(`/tasks?${query({ filter, order: { updated_at: "desc" }, limit: KOMMO_MAX_PAGE })}`);
    return idsAndTexts(embedded(response.data, "tasks"), (task) => (task as { text?: unknown }).text);
  }

  /**
   * Every pipeline with its statuses. Statuses 142 (won) and 143 (lost) appear in each pipeline with
   * the same ids, so a stage is the pair (pipeline id, status id).
   * @see https://developers.kommo.com/reference/pipelines-list
   */
  async getPipelines(): Promise<KommoPipeline[]> {
    const response = await this.http.get("/leads/pipelines");
    return embedded(response.data, "pipelines")
      .map(toKommoPipeline)
      .filter((p): p is KommoPipeline => p !== null);
  }

  /**
   * Every custom field of leads or of contacts, paging through `_embedded.custom_fields` while
   * `_links.next` says there is more (an empty account answers 204).
   * @see https://developers.kommo.com/reference/custom-fields-list
   */
  async getCustomFields(entityType: EntityType): Promise<KommoCustomField[]> {
    assertEntityType(entityType);
    const fields: KommoCustomField[] = [];
    for (let page = 1; ; page++) {
      const response = await this.http.get(`/${entityType}/custom_fields?${query({ page, limit: CUSTOM_FIELDS_PAGE })}`);
      for (const raw of embedded(response.data, "custom_fields")) {
        const field = toKommoCustomField(raw, entityType);
        if (field) fields.push(field);
      }
      const links = (response.data as { _links?: { next?: unknown } } | undefined)?._links;
      if (!links?.next) return fields;
    }
  }

  /**
   * One page of a pipeline's leads (or one stage's, with `statusId`), with contact links, oldest id
   * first, for backfills. `hasMore` follows Kommo's `_links.next`.
   * @see https://developers.kommo.com/reference/leads-list
   */
  async listLeads(options: { pipelineId: number; statusId?: number; page: number; limit: number }): Promise<{ leads: KommoLead[]; hasMore: boolean }> {
    assertId(options.pipelineId, "pipelineId");
    if (options.statusId !== undefined) assertId(options.statusId, "statusId");
    assertId(options.page, "page");
    assertId(options.limit, "limit");
    if (options.limit > KOMMO_MAX_PAGE) throw new ValidationError("kommo", `limit must be at most ${KOMMO_MAX_PAGE} (got ${options.limit})`);
    const filter =
      options.statusId === undefined
        ? { pipeline_id: [options.pipelineId] }
        : { statuses: { 0: { pipeline_id: options.pipelineId, status_id: options.statusId } } }; // one stage per request
    const params = { filter, with: "contacts", order: { id: "asc" }, page: options.page, limit: options.limit };
    const response = await this.http.get(`/leads?${query(params)}`);
    const leads = embedded(response.data, "leads")
      .map(toKommoLead)
      .filter((l): l is KommoLead => l !== null);
    const links = (response.data as { _links?: { next?: unknown } } | undefined)?._links;
    return { leads, hasMore: Boolean(links?.next) };
  }

  /**
   * One page of the account's events feed between two times (unix s, both inclusive), newest
   * first, of the given types. Read under the `background` limit: below live work. `hasMore` follows
   * Kommo's `_links.next`; an empty page is a 204.
   * @see https://developers.kommo.com/reference/events-list
   */
  async listEvents(options: { types: readonly string[]; from: number; to: number; page: number }): Promise<{ events: KommoEvent[]; hasMore: boolean }> {
    assertId(options.page, "page");
    const params = { filter: { type: options.types.join(","), created_at: { from: options.from, to: options.to } }, page: options.page, limit: KOMMO_MAX_PAGE };
    const response = await this.http.get(`/events?${query(params)}`, { funnelsync: { limitKey: "background" } });
    const events = embedded(response.data, "events")
      .map(toKommoEvent)
      .filter((e): e is KommoEvent => e !== null);
    const links = (response.data as { _links?: { next?: unknown } } | undefined)?._links;
    return { events, hasMore: Boolean(links?.next) };
  }

  /**
   * The account's webhooks (an admin's token; 204 when there are none).
   * @see https://developers.kommo.com/reference/webhooks-list
   */
  async listWebhooks(): Promise<KommoWebhook[]> {
    const response = await this.http.get("/webhooks", { funnelsync: { limitKey: "background" } });
    return embedded(response.data, "webhooks")
      .map(toKommoWebhook)
      .filter((h): h is KommoWebhook => h !== null);
  }

  /**
   * Registers a webhook, or saves an existing destination again with these settings (which is also
   * how Kommo re-enables a disabled hook). Repeatable.
   * @see https://developers.kommo.com/reference/webhook-subscribe
   */
  async saveWebhook(destination: string, settings: readonly string[]): Promise<KommoWebhook> {
    if (!/^https?:\/\//i.test(destination)) throw new ValidationError("kommo", "a webhook destination must be an http(s) URL");
    if (settings.length === 0) throw new ValidationError("kommo", "a webhook needs at least one setting");
    const response = await this.http.post("/webhooks", { destination, settings }, { funnelsync: { idempotent: true } });
    const hook = toKommoWebhook(response.data);
    if (!hook) {
      throw createVendorError({ vendor: "kommo", status: response.status, what: "POST /webhooks", detail: "the answer is not a webhook", body: undefined, retryable: false });
    }
    return hook;
  }
}
