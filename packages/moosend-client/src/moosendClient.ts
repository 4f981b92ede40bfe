import type { AxiosInstance, AxiosResponse } from "axios";
import {
  apiIdOf,
  createVendorError,
  createVendorHttp,
  isVendorError,
  isVendorRateLimitError,
  pauseVendor,
  retryAfterHeaderMs,
  type RequestGate,
  type VendorHttpOptions,
} from "@funnelsync/vendor-http";
import { ValidationError } from "./errors";
import { MOOSEND_MAX_BATCH, MOOSEND_THROTTLE_WINDOW_MS, type MoosendLimitKey } from "./limits";
import { parseMoosendDate } from "./parseMoosendDate";

export type MoosendSubscriberStatus = "subscribed" | "unsubscribed" | "bounced" | "removed";
export type MoosendMemberListStatus = "Subscribed" | "Unsubscribed" | "Bounced" | "Removed";

/** One member of one list. Moosend gives each list membership its own id. */
export interface MoosendSubscriber {
  id: string;
  /** Lower-cased by Moosend. */
  email: string;
  name: string;
  status: MoosendSubscriberStatus;
  /** Field name → value, as strings; fields without a value are absent. */
  customFields: Record<string, string>;
  tags: string[];
  createdOn: Date | null;
  updatedOn: Date | null;
  unsubscribedOn: Date | null;
}

export interface MoosendSubscriberInput {
  email: string;
  name?: string;
  /**
   * EVERY mapped field, each time: Moosend clears the fields a subscribe leaves out. `null` sends
   * `"Name="`, which clears that field on purpose.
   */
  customFields: Record<string, string | number | null>;
}

export interface MoosendList {
  id: string;
  name: string;
}

/** A sent (or sending) campaign and the lists it went to. */
export interface MoosendCampaign {
  id: string;
  name: string;
  subject: string;
  /** 3 = sent, 6 = sending; see the Blueprint for the others. */
  status: number;
  listIds: string[];
}

/** One recipient's activity of one kind in a campaign: `TotalCount` opens or link clicks so far. */
export interface MoosendCampaignActivity {
  email: string;
  totalCount: number;
}

export interface MoosendClientOptions {
  /** `https://api.moosend.com/v3`, or a simulator's `${url}/v3`. */
  baseUrl: string;
  apiKey: string;
  http?: Pick<VendorHttpOptions, "gate" | "observe" | "retryBaseDelayMs" | "timeoutMs" | "retries">;
}

interface Envelope {
  Code: number;
  Error: string | null;
  Context: unknown;
}

interface WireSubscriber {
  ID: string;
  Name: string | null;
  Email: string;
  CreatedOn?: string | null;
  UpdatedOn?: string | null;
  UnsubscribedOn?: string | null;
  SubscribeType: number;
  CustomFields?: Array<{ Name: string; Value: string | null }> | null;
  Tags?: string[] | null;
}

/** Campaign lists and statistics pages hold at most 100 (more is treated as 100). */
const STATS_PAGE_SIZE = 100;

interface WireCampaign {
  ID: string;
  Name: string;
  Subject: string;
  Status: number;
  MailingLists: Array<{ MailingList: { ID: string; Name: string } | null }> | null;
}

interface WirePaging {
  CurrentPage: number;
  TotalPageCount: number;
  TotalResults: number;
}

interface CallOptions {
  method: "GET" | "POST";
  path: string;
  limitKey: MoosendLimitKey;
  data?: unknown;
  params?: Record<string, string | number>;
  /** Safe to send twice: Moosend's writes are keyed by e-mail and converge. */
  idempotent?: boolean;
  /** `MEMBER_NOT_FOUND` is an answer (null), not a failure. */
  missingIsNull?: boolean;
  /** subscribe_many reports skipped addresses in `Error` with `Code` 0. */
  partialSuccess?: boolean;
}

const STATUS: Record<number, MoosendSubscriberStatus> = { 1: "subscribed", 2: "unsubscribed", 3: "bounced", 4: "removed" };
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/;
/** Errors that the same request can never get past; everything else may be transient. */
const PERMANENT_ERRORS = new Set(["VALIDATION_ERROR", "LIST_NOT_FOUND", "MEMBER_NOT_FOUND", "INVALID_API_KEY"]);
const LISTS_PAGE_SIZE = 100;

/** The docs spell the same error `RATE-LIMITING` and `RATE_LIMITING`, `MEMBER-NOT-FOUND` and `MEMBER_NOT_FOUND`. */
function errorName(error: string | null): string {
  return (error ?? "").trim().toUpperCase().replace(/-/g, "_");
}

function isEnvelope(body: unknown): body is Envelope {
  return !!body && typeof body === "object" && "Code" in body && typeof (body as Envelope).Code === "number" && "Error" in body;
}

function invalidArgument(message: string): ValidationError {
  return new ValidationError("moosend", message);
}

function checkGuid(value: string, what: string): void {
  if (typeof value !== "string" || !GUID.test(value)) throw invalidArgument(`${what} must be a GUID`);
}

function checkEmail(value: string): string {
  if (typeof value !== "string" || !EMAIL.test(value.trim())) throw invalidArgument("email is not an e-mail address");
  return value.trim();
}

/** Moosend's `"Name=Value"` strings, one per field given; `null` clears the field. */
function customFieldStrings(fields: Record<string, string | number | null>): string[] {
  if (!fields || typeof fields !== "object" || Array.isArray(fields)) throw invalidArgument("customFields must be an object");
  return Object.entries(fields).map(([name, value]) => {
    if (name.trim() === "" || name.includes("=")) throw invalidArgument(`custom field name ${JSON.stringify(name)} is not usable`);
    if (typeof value === "number" && !Number.isFinite(value)) throw invalidArgument(`custom field ${name} is not a finite number`);
    if (value !== null && typeof value !== "string" && typeof value !== "number") {
      throw invalidArgument(`custom field ${name} must be a string, a number or null`);
    }
    return `${name}=${value === null ? "" : String(value)}`;
  });
}

function toSubscriber(wire: WireSubscriber): MoosendSubscriber {
  const status = STATUS[wire.SubscribeType];
  if (!status) {
    throw createVendorError({ vendor: "moosend", status: 200, what: "subscriber", detail: `unknown SubscribeType ${wire.SubscribeType}`, retryable: false });
  }
  return {
    id: wire.ID,
    email: wire.Email,
    name: wire.Name ?? "",
    status,
    customFields: Object.fromEntries((wire.CustomFields ?? []).map((field) => [field.Name, field.Value ?? ""])),
    tags: [...(wire.Tags ?? [])],
    createdOn: parseMoosendDate(wire.CreatedOn),
    updatedOn: parseMoosendDate(wire.UpdatedOn),
    unsubscribedOn: parseMoosendDate(wire.UnsubscribedOn),
  };
}

/**
 * Moosend API v3. The key travels as the `apikey` query parameter (set once on the axios instance,
 * so it is never part of a request's `url` nor of any error message). Moosend answers failures,
 * throttling included, as HTTP 200 with `{"Code":≠0}` or a non-null `Error`; every call checks that
 * envelope, so a throttled call becomes a `VendorRateLimitError` rather than a silent success.
 * @see https://docs.moosend.com/developers/api-documentation/en/index-en.html
 */
export class MoosendClient {
  private readonly http: AxiosInstance;
  private readonly gate: RequestGate | undefined;
  /** Names the API this client talks to (a hash of its base URL, never the key): for state kept per API, like polling positions. */
  readonly apiId: string;

  constructor(options: MoosendClientOptions) {
    if (!options.baseUrl) throw invalidArgument("baseUrl is required");
    if (!options.apiKey) throw invalidArgument("apiKey is required");
    this.gate = options.http?.gate;
    this.apiId = apiIdOf(options.baseUrl);
    this.http = createVendorHttp({
      ...options.http,
      vendor: "moosend",
      baseURL: options.baseUrl.replace(/\/+$/, ""),
      headers: { "Content-Type": "application/json" },
      params: { apikey: options.apiKey },
      defaultLimitKey: "read",
      retryAfterMsFrom: (response) => retryAfterHeaderMs(response) ?? MOOSEND_THROTTLE_WINDOW_MS,
    });
  }

  /**
   * Adds or updates (by e-mail) one member of a list. Moosend re-subscribes someone who had
   * unsubscribed and clears every custom field left out, so callers check consent first and pass
   * the full mapped field set. Safe to repeat: it converges on the same member.
   * @see https://docs.moosend.com/api-documentation/articles/KnowledgeBase/54573-Add-a-new-subscriber?lang=en_US
   */
  async subscribe(listId: string, subscriber: MoosendSubscriberInput): Promise<MoosendSubscriber> {
    checkGuid(listId, "listId");
    const body = { ...this.subscriberBody(subscriber, true), HasExternalDoubleOptIn: false };
    const answer = await this.call({
      method: "POST",
      path: `/subscribers/${listId}/subscribe.json`,
      data: body,
      limitKey: "subscribe",
      idempotent: true,
    });
    return toSubscriber(answer!.context as WireSubscriber);
  }

  /**
   * Adds or updates up to 1000 members in one call (2 calls per 10 s). Addresses Moosend finds
   * invalid are skipped and reported in `ignored` (its `Error` text), while the call still succeeds.
   * Unlike `subscribe`, it leaves a member who unsubscribed or bounced as they are (account setting
   * "unsubscribe from my account") and still answers success: re-activate such people one by one.
   * @see https://docs.moosend.com/api-documentation/articles/KnowledgeBase/54576-Add-multiple-subscribers?lang=en_US
   */
  async subscribeMany(
    listId: string,
    subscribers: MoosendSubscriberInput[],
  ): Promise<{ subscribers: MoosendSubscriber[]; ignored: string | null }> {
    checkGuid(listId, "listId");
    if (!Array.isArray(subscribers)) throw invalidArgument("subscribers must be an array");
    if (subscribers.length > MOOSEND_MAX_BATCH) throw invalidArgument(`at most ${MOOSEND_MAX_BATCH} subscribers per call`);
    if (subscribers.length === 0) return { subscribers: [], ignored: null };
    const answer = await this.call({
      method: "POST",
      path: `/subscribers/${listId}/subscribe_many.json`,
      data: { HasExternalDoubleOptIn: false, Subscribers: subscribers.map((s) => this.subscriberBody(s, false)) },
      limitKey: "subscribeMany",
      idempotent: true,
      partialSuccess: true,
    });
    return { subscribers: ((answer!.context ?? []) as WireSubscriber[]).map(toSubscriber), ignored: answer!.error };
  }

  /**
   * The list's member with this e-mail, in any status, or null if it has none.
   * @see https://doc.sitecore.com/send/en/developers/api-documentation/get-subscriber-by-email-address.html
   */
  async findByEmail(listId: string, email: string): Promise<MoosendSubscriber | null> {
    checkGuid(listId, "listId");
    const answer = await this.call({
      method: "GET",
      path: `/subscribers/${listId}/view.json`,
      params: { Email: checkEmail(email) },
      limitKey: "read",
      missingIsNull: true,
    });
    return answer ? toSubscriber(answer.context as WireSubscriber) : null;
  }

  /**
   * A member by its id (as an automation webhook gives it), or null if the list has no such member.
   * @see https://doc.sitecore.com/send/en/developers/api-documentation/get-subscriber-by-id.html
   */
  async findById(listId: string, subscriberId: string): Promise<MoosendSubscriber | null> {
    checkGuid(listId, "listId");
    checkGuid(subscriberId, "subscriberId");
    const answer = await this.call({
      method: "GET",
      path: `/subscribers/${listId}/find/${subscriberId}.json`,
      limitKey: "read",
      missingIsNull: true,
    });
    return answer ? toSubscriber(answer.context as WireSubscriber) : null;
  }

  /**
   * Unsubscribes the address from this list only (other lists keep it). False when the list has no
   * such member, which leaves nothing to do.
   * @see https://doc.sitecore.com/send/en/developers/api-documentation/unsubscribe-a-subscriber-from-a-mailing-list.html
   */
  async unsubscribe(listId: string, email: string): Promise<boolean> {
    return this.memberAction(listId, email, "unsubscribe", "unsubscribe");
  }

  /**
   * Removes the member from the list (status Removed; not suppressed). False when there is none.
   * @see https://docs.moosend.com/api-documentation/articles/KnowledgeBase/54588-Remove-a-subscriber?lang=en_US
   */
  async remove(listId: string, email: string): Promise<boolean> {
    return this.memberAction(listId, email, "remove", "remove");
  }

  /**
   * Removes up to 1000 members. Moosend takes the addresses as ONE comma-separated string.
   * @see https://docs.moosend.com/api-documentation/articles/KnowledgeBase/54591-Remove-multiple-subscribers?lang=en_US
   */
  async removeMany(listId: string, emails: string[]): Promise<{ processed: number; ignored: number }> {
    checkGuid(listId, "listId");
    if (!Array.isArray(emails) || emails.length === 0) throw invalidArgument("emails must be a non-empty array");
    if (emails.length > MOOSEND_MAX_BATCH) throw invalidArgument(`at most ${MOOSEND_MAX_BATCH} addresses per call`);
    const answer = await this.call({
      method: "POST",
      path: `/subscribers/${listId}/remove_many.json`,
      data: { Emails: emails.map(checkEmail).join(",") },
      limitKey: "removeMany",
      idempotent: true,
    });
    const context = (answer!.context ?? {}) as { EmailsProcessed?: number; EmailsIgnored?: number };
    return { processed: context.EmailsProcessed ?? 0, ignored: context.EmailsIgnored ?? 0 };
  }

  /**
   * Deletes the member from the list permanently. False when there is none.
   * @see https://doc.sitecore.com/send/en/developers/api-documentation/delete-a-subscriber.html
   */
  async delete(listId: string, email: string): Promise<boolean> {
    return this.memberAction(listId, email, "delete", "delete");
  }

  /**
   * One page of a list's members in one status (Moosend pages from 1; at most 1000 per page), newest
   * member of the list first (`CreatedOn`), whenever each entered the status; there is no date filter.
   * `totalPages` is 0 when there are none.
   * @see https://docs.moosend.com/api-documentation/articles/KnowledgeBase/54575-Get-all-subscribers?lang=en_US
   */
  async listMembers(
    listId: string,
    status: MoosendMemberListStatus,
    paging: { page: number; pageSize: number },
  ): Promise<{ subscribers: MoosendSubscriber[]; totalPages: number; page: number; total: number }> {
    checkGuid(listId, "listId");
    if (!["Subscribed", "Unsubscribed", "Bounced", "Removed"].includes(status)) throw invalidArgument(`unknown status ${status}`);
    const { page, pageSize } = paging;
    if (!Number.isInteger(page) || page < 1) throw invalidArgument("page must be an integer from 1");
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MOOSEND_MAX_BATCH) {
      throw invalidArgument(`pageSize must be an integer from 1 to ${MOOSEND_MAX_BATCH}`);
    }
    const answer = await this.call({
      method: "GET",
      path: `/lists/${listId}/subscribers/${status}.json`,
      params: { Page: page, PageSize: pageSize },
      limitKey: "read",
    });
    const context = answer!.context as { Paging: WirePaging; Subscribers: WireSubscriber[] | null };
    return {
      subscribers: (context.Subscribers ?? []).map(toSubscriber),
      totalPages: context.Paging.TotalPageCount,
      page: context.Paging.CurrentPage,
      total: context.Paging.TotalResults,
    };
  }

  /**
   * Every active list in the account, paging through all of them.
   * @see https://doc.sitecore.com/send/en/developers/api-documentation/get-all-active-mailing-lists-with-paging.html
   */
  async getLists(): Promise<MoosendList[]> {
    const lists: MoosendList[] = [];
    for (let page = 1; ; page++) {
      const answer = await this.call({ method: "GET", path: `/lists/${page}/${LISTS_PAGE_SIZE}.json`, limitKey: "read" });
      const context = answer!.context as { Paging: WirePaging; MailingLists: Array<{ ID: string; Name: string }> | null };
      const batch = context.MailingLists ?? [];
      lists.push(...batch.map((list) => ({ id: list.ID, name: list.Name })));
      if (batch.length === 0 || page >= context.Paging.TotalPageCount) return lists;
    }
  }

  /**
   * Every campaign in the account with the lists it was sent to, 100 per page.
   * @see https://docs.moosend.com/developers/api-documentation/en/index-en.html#get-campaigns-by-page-and-pagesize
   */
  async getCampaigns(): Promise<MoosendCampaign[]> {
    const campaigns: MoosendCampaign[] = [];
    for (let page = 1; ; page++) {
      const answer = await this.call({ method: "GET", path: `/campaigns/${page}/${STATS_PAGE_SIZE}.json`, limitKey: "read" });
      const context = answer!.context as { Paging: WirePaging; Campaigns: WireCampaign[] | null };
      const batch = context.Campaigns ?? [];
      campaigns.push(
        ...batch.map((c) => ({
          id: c.ID,
          name: c.Name,
          subject: c.Subject,
          status: c.Status,
          listIds: (c.MailingLists ?? []).flatMap((m) => (m.MailingList?.ID ? [m.MailingList.ID] : [])),
        })),
      );
      if (batch.length === 0 || page >= context.Paging.TotalPageCount) return campaigns;
    }
  }

  /**
   * One page of a campaign's opens or link clicks per recipient (at most 100 per page), every
   * activity since the campaign was sent.
   * @see https://docs.moosend.com/developers/api-documentation/en/index-en.html#get-campaign-statistics-with-paging-filtered
   */
  async getCampaignActivity(
    campaignId: string,
    type: "Opened" | "LinkClicked",
    page: number,
  ): Promise<{ activity: MoosendCampaignActivity[]; totalPages: number }> {
    checkGuid(campaignId, "campaignId");
    if (!Number.isInteger(page) || page < 1) throw invalidArgument("page must be an integer from 1");
    const answer = await this.call({
      method: "GET",
      path: `/campaigns/${campaignId}/stats/${type}.json`,
      params: { Page: page, PageSize: STATS_PAGE_SIZE },
      limitKey: "read",
    });
    const context = answer!.context as { Paging: WirePaging; Analytics: Array<{ Context: string; TotalCount: number }> | null };
    return {
      activity: (context.Analytics ?? []).map((row) => ({ email: row.Context, totalCount: row.TotalCount })),
      totalPages: context.Paging.TotalPageCount,
    };
  }

  /**
   * The names of the list's custom fields (what `subscribe` may send).
   * @see https://docs.moosend.com/api-documentation/articles/KnowledgeBase/54571-Get-mailing-list-details?lang=en_US
   */
  async getListCustomFields(listId: string): Promise<string[]> {
    checkGuid(listId, "listId");
    const answer = await this.call({ method: "GET", path: `/lists/${listId}/details.json`, params: { WithStatistics: "false" }, limitKey: "read" });
    const context = answer!.context as { CustomFieldsDefinition?: Array<{ Name: string }> | null };
    return (context.CustomFieldsDefinition ?? []).map((field) => field.Name);
  }

  private subscriberBody(subscriber: MoosendSubscriberInput, strictEmail: boolean) {
    if (!subscriber || typeof subscriber !== "object") throw invalidArgument("subscriber must be an object");
    // subscribe_many lets Moosend judge addresses: it skips bad ones and names them in `ignored`.
    const email = strictEmail ? checkEmail(subscriber.email) : String(subscriber.email ?? "").trim();
    if (email === "") throw invalidArgument("email is required");
    if (subscriber.name !== undefined && typeof subscriber.name !== "string") throw invalidArgument("name must be a string");
    return {
      Email: email,
      ...(subscriber.name !== undefined ? { Name: subscriber.name } : {}),
      CustomFields: customFieldStrings(subscriber.customFields),
    };
  }

  private async memberAction(listId: string, email: string, endpoint: string, limitKey: MoosendLimitKey): Promise<boolean> {
    checkGuid(listId, "listId");
    const answer = await this.call({
      method: "POST",
      path: `/subscribers/${listId}/${endpoint}.json`,
      data: { Email: checkEmail(email) },
      limitKey,
      idempotent: true,
      missingIsNull: true,
    });
    return answer !== null;
  }

  /**
   * Sends one request and reads Moosend's envelope: null for `MEMBER_NOT_FOUND` where that is an
   * answer, a `VendorRateLimitError` for throttling, a `VendorError` for any other failure.
   */
  private async call(options: CallOptions): Promise<{ context: unknown; error: string | null } | null> {
    const what = `${options.method} ${options.path}`;
    let status: number | undefined;
    let body: unknown;
    let response: AxiosResponse | undefined;
    try {
      const answer = await this.http.request({
        method: options.method,
        url: options.path,
        data: options.data,
        params: options.params,
        funnelsync: { limitKey: options.limitKey, idempotent: options.idempotent ?? false },
      });
      response = answer;
      status = answer.status;
      body = answer.data;
    } catch (err) {
      // A non-2xx answer: vendor-http already classified it; a Moosend envelope in it may say more.
      if (!isVendorError(err) || isVendorRateLimitError(err) || !isEnvelope(err.body) || err.body.Code === 0) throw err;
      status = err.status;
      body = err.body;
    }

    if (!isEnvelope(body)) {
      throw createVendorError({ vendor: "moosend", status, what, detail: "the answer is not a Moosend envelope", body, retryable: true });
    }
    const name = errorName(body.Error);
    if (body.Code === 429 || name === "RATE_LIMITING") {
      const retryAfterMs = retryAfterHeaderMs(response) ?? MOOSEND_THROTTLE_WINDOW_MS;
      await pauseVendor(this.gate, "moosend", retryAfterMs); // a 429 in the body, which vendor-http took for a success
      throw createVendorError({ vendor: "moosend", status, what, detail: body.Error ?? undefined, body, retryAfterMs });
    }
    if (body.Code === 0 && (body.Error === null || options.partialSuccess)) return { context: body.Context, error: body.Error };
    if (options.missingIsNull && name === "MEMBER_NOT_FOUND") return null;
    throw createVendorError({
      vendor: "moosend",
      status,
      what,
      detail: `${body.Error ?? "error"} (Code ${body.Code})`,
      body,
      retryable: !PERMANENT_ERRORS.has(name) && !(body.Code >= 400 && body.Code < 500),
    });
  }
}
