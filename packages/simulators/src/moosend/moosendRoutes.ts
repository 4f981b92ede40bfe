import { Router, type Request, type RequestHandler, type Response } from "express";
import { SlidingWindow } from "../shared/slidingWindow";
import {
  TYPE_BY_STATUS,
  changeStatus,
  newSubscriber,
  type MemberStatus,
  type MoosendSimList,
  type MoosendSimState,
  type MoosendSimSubscriber,
} from "./moosendState";
import { sendEnvelope, toWireList, toWireSubscriber } from "./moosendWire";

export type MoosendLimitName = "subscribe" | "subscribeMany" | "unsubscribe" | "remove" | "removeMany" | "delete" | "deleteMany";

/**
 * Moosend's published limits, per API key and per endpoint (docs "API rate limiting", Dec 2025).
 * `remove` and `remove_many` have none published: they count like `delete` and `delete_many`.
 * `update/{id}` counts like `subscribe`, in a window of its own; reads have no limit.
 */
export const MOOSEND_SIM_LIMITS: Record<MoosendLimitName, { max: number; perMs: number }> = {
  subscribe: { max: 10, perMs: 10_000 },
  subscribeMany: { max: 2, perMs: 10_000 },
  unsubscribe: { max: 20, perMs: 10_000 },
  remove: { max: 40, perMs: 10_000 },
  removeMany: { max: 8, perMs: 10_000 },
  delete: { max: 40, perMs: 10_000 },
  deleteMany: { max: 8, perMs: 10_000 },
};

/** Routes carry the full path (not a mount point), so the request log shows `/v3/...` as sent. */
const API = "/v3";
export const MAX_BATCH = 1000;
const MEMBER_PAGE = { default: 500, max: 1000 };
const LIST_PAGE = { default: 10, max: 100 };
const EMAIL = /^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/;

/** Numeric codes are unconfirmed; these follow the one that is known (`Code:429`) in mirroring HTTP. */
const ERROR_CODES = { VALIDATION_ERROR: 400, LIST_NOT_FOUND: 404, MEMBER_NOT_FOUND: 404, INVALID_API_KEY: 401 } as const;
export type MoosendErrorName = keyof typeof ERROR_CODES;

/** A business error, answered in Moosend's envelope by the app's error handler. */
export class MoosendFailure extends Error {
  constructor(readonly error: MoosendErrorName, detail?: string) {
    super(detail ? `${error}: ${detail}` : error);
  }

  get code(): number {
    return ERROR_CODES[this.error];
  }
}

export interface MoosendRoutesOptions {
  state: MoosendSimState;
  /** Member dates: never the same millisecond twice. */
  now: () => Date;
  /** What the rate limits count by, in ms. */
  clock: () => number;
  limits: Record<MoosendLimitName, { max: number; perMs: number }>;
  answerRateLimited: (res: Response) => void;
}

const validation = (detail: string) => new MoosendFailure("VALIDATION_ERROR", detail);

function objectBody(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (!body || typeof body !== "object" || Array.isArray(body)) throw validation("a JSON object body is required");
  return body as Record<string, unknown>;
}

function requiredEmail(value: unknown): string {
  if (typeof value !== "string" || !EMAIL.test(value.trim())) throw validation("Email is not a valid e-mail address");
  return value.trim().toLowerCase();
}

function optionalStrings(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw validation(`${field} must be an array of strings`);
  return value as string[];
}

function positiveInt(value: unknown, fallback: number, max: number, name: string): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw validation(`${name} must be an integer from 1 to ${max}`);
  return n;
}

/** What one subscriber item in a subscribe / subscribe_many / update body asks for. */
interface SubscribeItem {
  email: string;
  name: string | undefined;
  customFields: Record<string, string>;
  tags: string[] | undefined;
  preferences: string[] | undefined;
}

/**
 * `CustomFields` are `"Name=Value"` strings whose names must exist on the list. The set sent replaces
 * the member's fields: every field left out is cleared (the trap our client guards against).
 */
function parseCustomFields(list: MoosendSimList, raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!Array.isArray(raw)) throw validation('CustomFields must be an array of "Name=Value" strings');
  const fields: Record<string, string> = {};
  for (const item of raw) {
    if (typeof item !== "string" || item.indexOf("=") <= 0) throw validation('CustomFields must be an array of "Name=Value" strings');
    const at = item.indexOf("=");
    const name = item.slice(0, at).trim();
    const value = item.slice(at + 1);
    if (!list.CustomFields.some((field) => field.Name === name)) throw validation(`custom field "${name}" does not exist on the list`);
    if (value === "") delete fields[name];
    else fields[name] = value;
  }
  return fields;
}

/** Returns null for an item whose e-mail is invalid (subscribe_many skips those). */
function parseItem(list: MoosendSimList, raw: unknown): SubscribeItem | null {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw validation("each subscriber must be an object");
  const item = raw as Record<string, unknown>;
  if (item.Name !== undefined && item.Name !== null && typeof item.Name !== "string") throw validation("Name must be a string");
  const customFields = parseCustomFields(list, item.CustomFields);
  const tags = optionalStrings(item.Tags, "Tags");
  const preferences = optionalStrings(item.Preferences, "Preferences");
  if (typeof item.Email !== "string" || !EMAIL.test(item.Email.trim())) return null;
  return { email: item.Email.trim().toLowerCase(), name: item.Name ?? undefined, customFields, tags, preferences };
}

function applyItem(member: MoosendSimSubscriber, item: SubscribeItem, at: Date): void {
  if (item.name !== undefined) member.Name = item.name;
  member.CustomFields = item.customFields;
  if (item.tags) member.Tags = [...item.tags];
  if (item.preferences) member.Preferences = [...item.preferences];
  member.UpdatedOn = at;
}

/**
 * Upsert keyed by e-mail. A member who unsubscribed, bounced or was removed is subscribed again
 * ("added regardless of whether … previously been unsubscribed"): the trap our worker guards against.
 */
function upsertMember(list: MoosendSimList, item: SubscribeItem, at: Date): MoosendSimSubscriber {
  let member = list.members.get(item.email);
  if (!member) {
    member = newSubscriber({ Email: item.email }, at);
    list.members.set(item.email, member);
  }
  applyItem(member, item, at);
  changeStatus(member, 1, at);
  return member;
}

/**
 * `subscribe_many` under the common account setting "unsubscribe from my account": an unsubscribed or
 * bounced member stays exactly as they are, yet the answer shows them as if subscribed (the call
 * succeeds and its documented answer says nothing of members it left alone). Only the single
 * `subscribe` re-activates. Everyone else is upserted as by `subscribe`.
 */
function upsertManyMember(list: MoosendSimList, item: SubscribeItem, at: Date): MoosendSimSubscriber {
  const member = list.members.get(item.email);
  if (!member || (member.SubscribeType !== 2 && member.SubscribeType !== 3)) return upsertMember(list, item, at);
  const seeming = { ...member, CustomFields: { ...member.CustomFields }, Tags: [...member.Tags], Preferences: [...member.Preferences] };
  applyItem(seeming, item, at);
  changeStatus(seeming, 1, at);
  return seeming;
}

export function moosendRoutes(options: MoosendRoutesOptions): { router: Router; resetRateLimits(): void } {
  const { state, now } = options;
  const router = Router();
  const windows = new Map<string, SlidingWindow>();

  /** Each endpoint (each unsubscribe variant too) has its own window, per API key. */
  const limited = (limit: MoosendLimitName, endpoint: string): RequestHandler => (req, res, next) => {
    let window = windows.get(endpoint);
    if (!window) {
      window = new SlidingWindow(options.limits[limit].max, options.limits[limit].perMs);
      windows.set(endpoint, window);
    }
    if (window.take(String(req.query.apikey), options.clock()).ok) return next();
    options.answerRateLimited(res);
  };

  const ok = (res: Response, context: unknown, error: string | null = null) => sendEnvelope(res, 200, 0, error, context);

  const listOf = (req: Request): MoosendSimList => {
    const list = state.lists.get(String(req.params.listId).toLowerCase());
    if (!list) throw new MoosendFailure("LIST_NOT_FOUND");
    return list;
  };
  const memberOf = (list: MoosendSimList, email: string): MoosendSimSubscriber => {
    const member = list.members.get(email);
    if (!member) throw new MoosendFailure("MEMBER_NOT_FOUND");
    return member;
  };

  router.post(`${API}/subscribers/:listId/subscribe.json`, limited("subscribe", "subscribe"), (req, res) => {
    const list = listOf(req);
    const item = parseItem(list, objectBody(req));
    if (!item) throw validation("Email is not a valid e-mail address");
    ok(res, toWireSubscriber(upsertMember(list, item, now()), list));
  });

  router.post(`${API}/subscribers/:listId/subscribe_many.json`, limited("subscribeMany", "subscribe_many"), (req, res) => {
    const list = listOf(req);
    const raw = objectBody(req).Subscribers;
    if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_BATCH) {
      throw validation(`Subscribers must be an array of 1 to ${MAX_BATCH} subscribers`);
    }
    // Every item is checked before any is written: an unknown custom field fails the whole call.
    const parsed = raw.map((item) => ({ raw: item as Record<string, unknown>, item: parseItem(list, item) }));
    const invalid = parsed.filter((p) => !p.item).map((p) => String(p.raw.Email ?? ""));
    const at = now();
    const members = parsed.flatMap((p) => (p.item ? [toWireSubscriber(upsertManyMember(list, p.item, at), list)] : []));
    const error = invalid.length ? `${invalid.length} items with invalid email address were ignored: ${invalid.join(", ")}` : null;
    ok(res, members, error);
  });

  router.post(`${API}/subscribers/:listId/update/:subscriberId.json`, limited("subscribe", "update"), (req, res) => {
    const list = listOf(req);
    const member = [...list.members.values()].find((m) => m.ID.toLowerCase() === String(req.params.subscriberId).toLowerCase());
    if (!member) throw new MoosendFailure("MEMBER_NOT_FOUND");
    const item = parseItem(list, objectBody(req));
    if (!item) throw validation("Email is not a valid e-mail address");
    if (item.email !== member.Email) {
      if (list.members.has(item.email)) throw validation("another member of the list has this e-mail address");
      list.members.delete(member.Email);
      member.Email = item.email;
      list.members.set(item.email, member);
    }
    applyItem(member, item, now());
    ok(res, toWireSubscriber(member, list));
  });

  router.get(`${API}/subscribers/:listId/view.json`, (req, res) => {
    const list = listOf(req);
    ok(res, toWireSubscriber(memberOf(list, requiredEmail(req.query.Email)), list));
  });

  router.get(`${API}/subscribers/:listId/find/:subscriberId.json`, (req, res) => {
    const list = listOf(req);
    const id = String(req.params.subscriberId).toLowerCase();
    const member = [...list.members.values()].find((m) => m.ID.toLowerCase() === id);
    if (!member) throw new MoosendFailure("MEMBER_NOT_FOUND");
    ok(res, toWireSubscriber(member, list));
  });

  const unsubscribeFrom = (list: MoosendSimList, email: string, fromId: string | null) => {
    const member = memberOf(list, email);
    if (member.SubscribeType === 1) changeStatus(member, 2, now(), fromId);
  };

  router.post(`${API}/subscribers/unsubscribe.json`, limited("unsubscribe", "unsubscribe:account"), (req, res) => {
    const email = requiredEmail(objectBody(req).Email);
    const lists = [...state.lists.values()].filter((list) => list.members.has(email));
    if (lists.length === 0) throw new MoosendFailure("MEMBER_NOT_FOUND");
    for (const list of lists) unsubscribeFrom(list, email, null);
    ok(res, null);
  });

  router.post(`${API}/subscribers/:listId/unsubscribe.json`, limited("unsubscribe", "unsubscribe:list"), (req, res) => {
    const list = listOf(req);
    unsubscribeFrom(list, requiredEmail(objectBody(req).Email), list.ID);
    ok(res, null);
  });

  router.post(`${API}/subscribers/:listId/:campaignId/unsubscribe.json`, limited("unsubscribe", "unsubscribe:campaign"), (req, res) => {
    const list = listOf(req);
    unsubscribeFrom(list, requiredEmail(objectBody(req).Email), String(req.params.campaignId));
    ok(res, null);
  });

  router.post(`${API}/subscribers/:listId/remove.json`, limited("remove", "remove"), (req, res) => {
    const list = listOf(req);
    changeStatus(memberOf(list, requiredEmail(objectBody(req).Email)), 4, now());
    ok(res, null);
  });

  router.post(`${API}/subscribers/:listId/remove_many.json`, limited("removeMany", "remove_many"), (req, res) => {
    const list = listOf(req);
    const emails = objectBody(req).Emails;
    if (typeof emails !== "string") throw validation("Emails must be a comma-separated string");
    const items = emails.split(",").map((e) => e.trim()).filter((e) => e !== "");
    if (items.length === 0 || items.length > MAX_BATCH) throw validation(`Emails must list 1 to ${MAX_BATCH} addresses`);
    const at = now();
    let processed = 0;
    for (const email of items) {
      const member = list.members.get(email.toLowerCase());
      if (!member || member.SubscribeType === 4) continue;
      changeStatus(member, 4, at);
      processed++;
    }
    ok(res, { EmailsIgnored: items.length - processed, EmailsProcessed: processed });
  });

  router.post(`${API}/subscribers/:listId/delete.json`, limited("delete", "delete"), (req, res) => {
    const list = listOf(req);
    const email = requiredEmail(objectBody(req).Email);
    memberOf(list, email);
    list.members.delete(email);
    ok(res, null);
  });

  router.post(`${API}/subscribers/:listId/delete_many.json`, limited("deleteMany", "delete_many"), (req, res) => {
    const list = listOf(req);
    const emails = objectBody(req).Emails;
    if (!Array.isArray(emails) || emails.some((e) => typeof e !== "string")) throw validation("Emails must be an array of strings");
    if (emails.length === 0 || emails.length > MAX_BATCH) throw validation(`Emails must list 1 to ${MAX_BATCH} addresses`);
    let processed = 0;
    for (const email of emails as string[]) {
      if (list.members.delete(email.trim().toLowerCase())) processed++;
    }
    ok(res, { EmailsIgnored: emails.length - processed, EmailsProcessed: processed });
  });

  const listsPage = (res: Response, pageValue: unknown, pageSizeValue: unknown) => {
    const pageSize = positiveInt(pageSizeValue, LIST_PAGE.default, LIST_PAGE.max, "PageSize");
    const page = positiveInt(pageValue, 1, Number.MAX_SAFE_INTEGER, "Page");
    const lists = [...state.lists.values()];
    ok(res, {
      Paging: paging(page, pageSize, lists.length, "CreatedOn", true),
      MailingLists: lists.slice((page - 1) * pageSize, page * pageSize).map(toWireList),
    });
  };

  /** Without paging in the path: the first page only, at the default page size. */
  router.get(`${API}/lists.json`, (req, res) => listsPage(res, req.query.Page, req.query.PageSize));

  router.get(`${API}/lists/:listId/details.json`, (req, res) => {
    ok(res, toWireList(listOf(req)));
  });

  router.get(`${API}/lists/:page/:pageSize.json`, (req, res, next) => {
    if (!/^\d+$/.test(String(req.params.page))) return next();
    listsPage(res, req.params.page, req.params.pageSize);
  });

  /** Members in one status, newest member of the list first (`CreatedOn`); there is no date filter. */
  router.get(`${API}/lists/:listId/subscribers/:status.json`, (req, res) => {
    const list = listOf(req);
    const wanted = String(req.params.status).toLowerCase();
    const status = (Object.keys(TYPE_BY_STATUS) as MemberStatus[]).find((name) => name.toLowerCase() === wanted);
    if (status === undefined) throw validation("status must be Subscribed, Unsubscribed, Bounced or Removed");
    const type = TYPE_BY_STATUS[status];
    const pageSize = positiveInt(req.query.PageSize, MEMBER_PAGE.default, MEMBER_PAGE.max, "PageSize");
    const page = positiveInt(req.query.Page, 1, Number.MAX_SAFE_INTEGER, "Page");
    // Joined later first; among equal CreatedOn, the one added later first.
    const members = [...list.members.values()]
      .filter((m) => m.SubscribeType === type)
      .reverse()
      .sort((a, b) => b.CreatedOn.getTime() - a.CreatedOn.getTime());
    ok(res, {
      Paging: paging(page, pageSize, members.length, "CreatedOn", false),
      Subscribers: members.slice((page - 1) * pageSize, page * pageSize).map((m) => toWireSubscriber(m, list)),
    });
  });

  return { router, resetRateLimits: () => windows.clear() };
}

function paging(page: number, pageSize: number, total: number, sortExpression: string, ascending: boolean) {
  return {
    PageSize: pageSize,
    CurrentPage: page,
    TotalResults: total,
    TotalPageCount: Math.ceil(total / pageSize),
    SortExpression: sortExpression,
    SortIsAscending: ascending,
  };
}
