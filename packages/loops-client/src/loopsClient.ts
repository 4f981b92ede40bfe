import type { AxiosInstance } from "axios";
import { createVendorError, createVendorHttp, isVendorError, type VendorHttpOptions } from "@funnelsync/vendor-http";
import { z } from "zod";
import { ValidationError } from "./errors";
import { LOOPS_LIMITS, LOOPS_MAX_IDEMPOTENCY_KEY } from "./limits";

export type LoopsPropertyValue = string | number | boolean | null;

export interface LoopsContactInput {
  email: string;
  userId?: string;
  firstName?: string;
  lastName?: string;
  source?: string;
  /**
   * Sent only when given: `true` RE-SUBSCRIBES a contact who opted out, `false` unsubscribes.
   * Leave it out to keep the contact's own choice.
   */
  subscribed?: boolean;
  userGroup?: string;
  /** List id → add (true) or remove (false). */
  mailingLists?: Record<string, boolean>;
  /** Custom properties (they must exist in Loops); `null` clears one. Sent top-level on the wire. */
  properties?: Record<string, LoopsPropertyValue>;
}

export interface LoopsContact {
  id: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  source: string | null;
  subscribed: boolean;
  userGroup: string | null;
  userId: string | null;
  mailingLists: Record<string, boolean>;
  optInStatus: string | null;
  properties: Record<string, LoopsPropertyValue>;
}

export type LoopsContactKey = { email: string; userId?: never } | { userId: string; email?: never };

export interface LoopsEvent {
  eventName: string;
  email?: string;
  userId?: string;
  eventProperties?: Record<string, string | number | boolean>;
  mailingLists?: Record<string, boolean>;
  /**
   * Contact fields and custom properties written with the event (top-level on the wire): one call
   * instead of an update and an event. No `subscribed`: an event must not re-subscribe anyone.
   */
  contact?: LoopsEventContact;
}

/** What an event may write on its contact. */
export type LoopsEventContact = Pick<LoopsContactInput, "firstName" | "lastName" | "source" | "userGroup" | "properties">;

export interface LoopsTransactionalMessage {
  transactionalId: string;
  email: string;
  /** Every data variable the template uses is required; Loops answers 400 naming the missing ones. */
  dataVariables?: Record<string, string | number>;
  addToAudience?: boolean;
}

/** "duplicate": Loops already accepted this idempotency key, so this step reached it before. */
export type LoopsSendResult = "sent" | "duplicate";

export interface LoopsContactProperty {
  key: string;
  /** "string", "number", "boolean" or "date". */
  type: string;
}

/** A published transactional e-mail and the data variables its template uses. */
export interface LoopsTransactionalEmail {
  id: string;
  name: string;
  dataVariables: string[];
}

export interface LoopsClientOptions {
  /** `https://app.loops.so/api/v1`, or a simulator's `${url}/api/v1`. */
  baseUrl: string;
  apiKey: string;
  http?: Pick<VendorHttpOptions, "gate" | "observe" | "retryBaseDelayMs" | "timeoutMs" | "retries">;
}

const STANDARD_CONTACT_KEYS = new Set([
  "id",
  "email",
  "firstName",
  "lastName",
  "source",
  "subscribed",
  "userGroup",
  "userId",
  "mailingLists",
  "optInStatus",
]);

const idAnswer = z.object({ id: z.string() });
const pagination = z.object({ nextCursor: z.string().nullish() });
const transactionalPage = z.object({
  pagination,
  data: z.array(z.object({ id: z.string(), name: z.string(), dataVariables: z.array(z.string()).default([]) })),
});
const transactionalResourcePage = z.object({
  pagination,
  data: z.array(
    z.object({ id: z.string(), name: z.string(), publishedEmailMessageId: z.string().nullable(), dataVariables: z.array(z.string()).default([]) }),
  ),
});
const propertyValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const contactAnswer = z.looseObject({
  id: z.string(),
  email: z.string(),
  firstName: z.string().nullish(),
  lastName: z.string().nullish(),
  source: z.string().nullish(),
  subscribed: z.boolean().default(true),
  userGroup: z.string().nullish(),
  userId: z.string().nullish(),
  mailingLists: z.record(z.string(), z.boolean()).nullish(),
  optInStatus: z.string().nullish(),
});

function requireText(value: unknown, name: string): void {
  if (typeof value !== "string" || value.trim() === "") throw new ValidationError("loops", `${name} is required`);
}

function checkIdempotencyKey(key: string): void {
  requireText(key, "idempotencyKey");
  if (key.length > LOOPS_MAX_IDEMPOTENCY_KEY) {
    throw new ValidationError("loops", `idempotencyKey must be at most ${LOOPS_MAX_IDEMPOTENCY_KEY} characters (got ${key.length})`);
  }
}

/** Exactly one of email and userId, as find and delete demand. */
function contactKey(by: LoopsContactKey): { email: string } | { userId: string } {
  const hasEmail = typeof by.email === "string" && by.email !== "";
  const hasUserId = typeof by.userId === "string" && by.userId !== "";
  if (hasEmail === hasUserId) throw new ValidationError("loops", "give exactly one of email and userId");
  return hasEmail ? { email: by.email! } : { userId: by.userId! };
}

/** Custom properties travel top-level next to the standard fields; `subscribed` only when given. */
function contactBody(contact: LoopsContactInput): Record<string, unknown> {
  requireText(contact?.email, "contact.email");
  return contactFields(contact);
}

/** Standard fields and custom properties side by side, as Loops takes them. */
function contactFields(contact: Partial<LoopsContactInput>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(contact.properties ?? {})) {
    if (STANDARD_CONTACT_KEYS.has(key)) {
      throw new ValidationError("loops", `custom property "${key}" clashes with a standard contact field`);
    }
    body[key] = value;
  }
  const { properties: _properties, ...standard } = contact;
  for (const [key, value] of Object.entries(standard)) if (value !== undefined) body[key] = value;
  return body;
}

function toContact(item: z.infer<typeof contactAnswer>): LoopsContact {
  const properties: Record<string, LoopsPropertyValue> = {};
  for (const [key, value] of Object.entries(item)) {
    const parsed = propertyValue.safeParse(value);
    if (!STANDARD_CONTACT_KEYS.has(key) && parsed.success) properties[key] = parsed.data;
  }
  return {
    id: item.id,
    email: item.email,
    firstName: item.firstName ?? null,
    lastName: item.lastName ?? null,
    source: item.source ?? null,
    subscribed: item.subscribed,
    userGroup: item.userGroup ?? null,
    userId: item.userId ?? null,
    mailingLists: item.mailingLists ?? {},
    optInStatus: item.optInStatus ?? null,
    properties,
  };
}

/** Loops answered 2xx with something we cannot read: retrying will not change it. */
function unexpectedAnswer(what: string, body: unknown): Error {
  return createVendorError({ vendor: "loops", status: 200, what, detail: "unexpected response body", body, retryable: false });
}

/**
 * Loops API v1. Contacts are written with the `PUT /contacts/update` upsert; events and
 * transactional e-mails carry an idempotency key, so a 409 on them means "already done".
 */
export class LoopsClient {
  private readonly http: AxiosInstance;

  constructor(options: LoopsClientOptions) {
    requireText(options?.baseUrl, "baseUrl");
    requireText(options.apiKey, "apiKey");
    this.http = createVendorHttp({
      ...options.http,
      vendor: "loops",
      baseURL: options.baseUrl.replace(/\/+$/, ""),
      headers: { Authorization: `Bearer ${options.apiKey}`, "Content-Type": "application/json" },
      defaultLimitKey: "default",
      // Loops' 429 carries only x-ratelimit-limit/-remaining (per second); Retry-After wins if it ever appears.
      defaultRetryAfterMs: LOOPS_LIMITS.default.perMs,
    });
  }

  /**
   * Checks the API key and names the team it belongs to.
   * @see https://loops.so/docs/api-reference/api-key
   */
  async testApiKey(): Promise<{ teamName: string }> {
    const { data } = await this.http.get("/api-key");
    const parsed = z.object({ teamName: z.string() }).safeParse(data);
    if (!parsed.success) throw unexpectedAnswer("GET /api-key", data);
    return parsed.data;
  }

  /**
   * The contact properties the team has, with their types: Loops rejects a value of the wrong type
   * (a numeric string for a number property), so writers coerce by these.
   * @see https://loops.so/docs/api-reference/list-contact-properties
   */
  async getContactProperties(): Promise<LoopsContactProperty[]> {
    const { data } = await this.http.get("/contacts/properties");
    const parsed = z.array(z.object({ key: z.string(), label: z.string().optional(), type: z.string() })).safeParse(data);
    if (!parsed.success) throw unexpectedAnswer("GET /contacts/properties", data);
    return parsed.data.map(({ key, type }) => ({ key, type }));
  }

  /**
   * Every published transactional e-mail, page by page (50, the most Loops gives per page, so a
   * team's list costs few calls of its rate limit). Drafts are left out: Loops cannot send them.
   * Reads the current `GET /transactional-emails`; a team without the content API (401) or an API
   * without the route (404, 405) is read through the deprecated `GET /transactional`.
   * @see https://loops.so/docs/api-reference/list-transactional-emails
   */
  async listTransactionalEmails(): Promise<LoopsTransactionalEmail[]> {
    try {
      const items = await this.readPages("/transactional-emails", transactionalResourcePage);
      return items.filter((e) => e.publishedEmailMessageId !== null).map(({ id, name, dataVariables }) => ({ id, name, dataVariables }));
    } catch (err) {
      if (!(isVendorError(err) && [401, 404, 405].includes(err.status ?? 0))) throw err;
    }
    const items = await this.readPages("/transactional", transactionalPage);
    return items.map(({ id, name, dataVariables }) => ({ id, name, dataVariables }));
  }

  /** Every item of a cursor-paged Loops list. */
  private async readPages<T>(path: string, page: z.ZodType<{ pagination: { nextCursor?: string | null }; data: T[] }>): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const params: Record<string, string> = { perPage: "50", ...(cursor !== null && { cursor }) };
      const { data } = await this.http.get(path, { params });
      const parsed = page.safeParse(data);
      if (!parsed.success) throw unexpectedAnswer(`GET ${path}`, data);
      items.push(...parsed.data.data);
      cursor = parsed.data.pagination.nextCursor ?? null;
    } while (cursor !== null);
    return items;
  }

  /**
   * Creates or updates a contact, keyed by e-mail or userId (with both, either may match and the
   * other is updated, which is how an e-mail changes). Safe to repeat.
   * @see https://loops.so/docs/api-reference/update-contact
   */
  async updateContact(contact: LoopsContactInput): Promise<{ id: string }> {
    const body = contactBody(contact);
    const { data } = await this.http.put("/contacts/update", body);
    const parsed = idAnswer.safeParse(data);
    if (!parsed.success) throw unexpectedAnswer("PUT /contacts/update", data);
    return { id: parsed.data.id };
  }

  /**
   * Creates a contact. NOT an upsert: an existing e-mail or userId is a `VendorError` with status 409
   * (not retryable); use `updateContact` to write whether or not the contact exists.
   * @see https://loops.so/docs/api-reference/create-contact
   */
  async createContact(contact: LoopsContactInput): Promise<{ id: string }> {
    const body = contactBody(contact);
    const { data } = await this.http.post("/contacts/create", body);
    const parsed = idAnswer.safeParse(data);
    if (!parsed.success) throw unexpectedAnswer("POST /contacts/create", data);
    return { id: parsed.data.id };
  }

  /**
   * Finds a contact by e-mail or by userId (one of them); null when Loops has none (it answers `[]`).
   * @see https://loops.so/docs/api-reference/find-contact
   */
  async findContact(by: LoopsContactKey): Promise<LoopsContact | null> {
    const params = contactKey(by);
    const { data } = await this.http.get("/contacts/find", { params });
    const parsed = z.array(contactAnswer).safeParse(data);
    if (!parsed.success) throw unexpectedAnswer("GET /contacts/find", data);
    const first = parsed.data[0];
    return first ? toContact(first) : null;
  }

  /**
   * Deletes a contact by e-mail or by userId (one of them); false when Loops has no such contact.
   * Loops then fires `contact.deleted` and `contact.unsubscribed` webhooks.
   * @see https://loops.so/docs/api-reference/delete-contact
   */
  async deleteContact(by: LoopsContactKey): Promise<boolean> {
    const body = contactKey(by);
    try {
      await this.http.post("/contacts/delete", body, { funnelsync: { idempotent: true } });
      return true;
    } catch (err) {
      if (isVendorError(err) && err.status === 404) return false;
      throw err;
    }
  }

  /**
   * Sends an event that can start Loops workflows, and creates the contact if none matches. Loops
   * keeps `idempotencyKey` (≤ 100 chars) for 24 h and answers 409 on reuse; our keys name one job
   * step, so a 409 means that step already reached Loops.
   * @see https://loops.so/docs/api-reference/send-event
   */
  async sendEvent(event: LoopsEvent, idempotencyKey: string): Promise<LoopsSendResult> {
    requireText(event?.eventName, "event.eventName");
    if (!event.email && !event.userId) throw new ValidationError("loops", "an event needs an email or a userId");
    checkIdempotencyKey(idempotencyKey);
    const body = {
      ...contactFields(event.contact ?? {}),
      eventName: event.eventName,
      email: event.email,
      userId: event.userId,
      eventProperties: event.eventProperties,
      mailingLists: event.mailingLists,
    };
    return this.sendOnce("/events/send", body, idempotencyKey);
  }

  /**
   * Sends a transactional e-mail (Loops answers no message id). Same idempotency-key handling as
   * `sendEvent`. A missing data variable or an unknown `transactionalId` is a non-retryable VendorError.
   * @see https://loops.so/docs/api-reference/send-transactional-email
   */
  async sendTransactional(message: LoopsTransactionalMessage, idempotencyKey: string): Promise<LoopsSendResult> {
    requireText(message?.transactionalId, "message.transactionalId");
    requireText(message.email, "message.email");
    checkIdempotencyKey(idempotencyKey);
    const body = {
      transactionalId: message.transactionalId,
      email: message.email,
      dataVariables: message.dataVariables,
      addToAudience: message.addToAudience,
    };
    return this.sendOnce("/transactional", body, idempotencyKey);
  }

  private async sendOnce(path: string, body: object, idempotencyKey: string): Promise<LoopsSendResult> {
    try {
      await this.http.post(path, body, {
        headers: { "Idempotency-Key": idempotencyKey },
        funnelsync: { idempotent: true },
      });
      return "sent";
    } catch (err) {
      if (isVendorError(err) && err.status === 409) return "duplicate";
      throw err;
    }
  }
}
