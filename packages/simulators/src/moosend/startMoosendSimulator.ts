import express, { type ErrorRequestHandler, type RequestHandler, type Response } from "express";
import { Faults } from "../shared/faults";
import { RequestLog } from "../shared/requestLog";
import { requestRecorder } from "../shared/requestRecorder";
import { startServer } from "../shared/startServer";
import { MOOSEND_SIM_LIMITS, MoosendFailure, moosendRoutes, type MoosendLimitName } from "./moosendRoutes";
import { moosendCampaignRoutes, newCampaign, type MoosendActivityType, type MoosendSimCampaign } from "./moosendCampaigns";
import {
  STATUS_BY_TYPE,
  TYPE_BY_STATUS,
  changeStatus,
  createMoosendState,
  monotonicClock,
  newSubscriber,
  type MemberStatus,
  type MoosendSimList,
  type MoosendSimState,
  type MoosendSimSubscriber,
  type MoosendWebhookDelivery,
  type SubscribeType,
} from "./moosendState";
import { sendEnvelope } from "./moosendWire";

export type { MemberStatus, MoosendLimitName, MoosendSimState, MoosendSimSubscriber, MoosendWebhookDelivery };

export interface MoosendSimulatorOptions {
  port?: number;
  /** The one key `?apikey=` must carry. */
  apiKey?: string;
  /** Added to every request (benchmarks use 50 ms). */
  latencyMs?: number;
  /** Overrides of Moosend's published per-endpoint limits (tests use small ones). */
  limits?: Partial<Record<MoosendLimitName, { max: number; perMs: number }>>;
  /**
   * HTTP status of the throttling answer `{"Code":429,"Error":"RATE-LIMITING","Context":null}`.
   * Unconfirmed; 200 (the default) is the harder case, as axios sees a success.
   */
  rateLimitHttpStatus?: number;
  /**
   * Business errors (VALIDATION_ERROR, LIST_NOT_FOUND, MEMBER_NOT_FOUND) come as HTTP 200 with the error
   * in the envelope (default: the harder case, as every documented example is a 200) or, when true,
   * with the HTTP status equal to their `Code` (400, 404). Unconfirmed either way.
   */
  errorsAsHttpStatus?: boolean;
  /** Start with SEED.moosend's lists and a few members (default true). */
  seed?: boolean;
  /** Where automation "post a webhook" steps POST (the query string is kept, as Moosend does). */
  webhook?: { url: string; contentType?: string; timeoutMs?: number };
  /** The clock for member dates and the rate limits, in ms. */
  now?: () => number;
}

/** A member as tests see it: the stored fields plus the list and the status by name. */
export type MoosendSimSubscriberView = MoosendSimSubscriber & { ListID: string; Status: MemberStatus };

export interface MoosendSimulator {
  /** The server root; the API is at `${url}/v3`. */
  url: string;
  state: MoosendSimState;
  faults: Faults;
  requests: RequestLog;
  /** The limits in force (Moosend's published ones, with the options' overrides). */
  limits: Record<MoosendLimitName, { max: number; perMs: number }>;
  /** Every member of a list, in the order they joined, in any status. */
  subscribers(listId: string): MoosendSimSubscriberView[];
  /** Seeds a member directly (no request, no rate limit). */
  addSubscriber(
    listId: string,
    member: { email: string; name?: string; status?: MemberStatus; customFields?: Record<string, string>; tags?: string[] },
  ): MoosendSimSubscriberView;
  /**
   * As if the person clicked "unsubscribe" in a campaign. With `viaAutomation` and a webhook URL, an
   * automation then posts its webhook; the delivery is returned and kept in `state.deliveries`.
   */
  unsubscribe(listId: string, email: string, options?: { viaAutomation?: boolean }): Promise<MoosendWebhookDelivery | undefined>;
  /** The address bounced (SubscribeType 3); `viaAutomation` as for `unsubscribe`. */
  bounce(listId: string, email: string, options?: { viaAutomation?: boolean }): Promise<MoosendWebhookDelivery | undefined>;
  setWebhookUrl(url: string | null): void;
  /** A campaign sent now to these lists (as from Moosend's UI); returns its id. */
  sendCampaign(input: { subject: string; name?: string; listIds: string[] }): string;
  /** The recipient opened the campaign or clicked a link in it, once more. */
  campaignActivity(campaignId: string, email: string, type: MoosendActivityType): void;
  resetRateLimits(): void;
  close(): Promise<void>;
}

const DEFAULT_API_KEY = "sim-moosend-key";

const GATEWAY_PAGE = (status: number) =>
  `<html><head><title>${status} Error</title></head><body><center><h1>${status} Error</h1></center><hr><center>nginx</center></body></html>`;

/**
 * A Moosend API v3 account over HTTP: `?apikey=` auth (a wrong or missing key gets HTTP 401 with
 * `{"Code":401,"Error":"INVALID_API_KEY"}`, unconfirmed), the `{"Code","Error","Context"}` envelope,
 * per-endpoint sliding-window limits answered with Moosend's throttling body, and its traps: subscribe
 * re-subscribes people who opted out while subscribe_many leaves them unsubscribed (and answers as if
 * it had not), a subscribe clears every custom field left out of the request, and member listings come
 * newest member first with no date filter.
 */
export async function startMoosendSimulator(options: MoosendSimulatorOptions = {}): Promise<MoosendSimulator> {
  const state = createMoosendState(options.apiKey ?? DEFAULT_API_KEY, options.seed ?? true, options.webhook?.url ?? null);
  const clock = options.now ?? Date.now;
  const now = monotonicClock(clock);
  const requests = new RequestLog();
  const faults = new Faults();
  faults.latencyMs = options.latencyMs ?? 0;
  const limits = { ...MOOSEND_SIM_LIMITS, ...options.limits };
  const rateLimitHttpStatus = options.rateLimitHttpStatus ?? 200;

  const answerRateLimited = (res: Response) => sendEnvelope(res, rateLimitHttpStatus, 429, "RATE-LIMITING", null);
  const answerFault = (res: Response, status: number) => {
    if (status === 429) return sendEnvelope(res, 429, 429, "RATE-LIMITING", null);
    if (status >= 502) {
      res.status(status).type("html").send(GATEWAY_PAGE(status));
      return;
    }
    const error = { 400: "VALIDATION_ERROR", 401: "INVALID_API_KEY", 404: "Not Found" }[status] ?? "INTERNAL_SERVER_ERROR";
    sendEnvelope(res, status, status, error, null);
  };

  const authenticate: RequestHandler = (req, res, next) => {
    if (req.query.apikey === state.apiKey) return next();
    sendEnvelope(res, 401, 401, "INVALID_API_KEY", null);
  };

  const routes = moosendRoutes({ state, now, clock, limits, answerRateLimited });

  const answerErrors: ErrorRequestHandler = (err, _req, res, _next) => {
    if (err instanceof MoosendFailure) {
      return sendEnvelope(res, options.errorsAsHttpStatus ? err.code : 200, err.code, err.error, null);
    }
    const type = (err as { type?: string }).type;
    if (type === "entity.parse.failed") return sendEnvelope(res, 400, 400, "VALIDATION_ERROR", null);
    if (type === "entity.too.large") return sendEnvelope(res, 413, 413, "VALIDATION_ERROR", null);
    sendEnvelope(res, 500, 500, "INTERNAL_SERVER_ERROR", null);
  };

  const app = express();
  app.use(requestRecorder(requests));
  app.use(express.json({ limit: "10mb" }));
  app.use(faults.middleware(answerRateLimited, answerFault));
  const campaigns = new Map<string, MoosendSimCampaign>();
  app.use(authenticate, routes.router, moosendCampaignRoutes(campaigns, (id) => state.lists.get(id.toLowerCase())?.Name ?? ""));
  app.use((_req, res) => {
    res.status(404).type("html").send("<html><body><h1>404 - File or directory not found.</h1></body></html>");
  });
  app.use(answerErrors);

  const server = await startServer(app, options.port ?? 0);

  const listOf = (listId: string): MoosendSimList => {
    const list = state.lists.get(listId.toLowerCase());
    if (!list) throw new Error(`moosend simulator: no list ${listId}`);
    return list;
  };
  const memberOf = (listId: string, email: string) => {
    const list = listOf(listId);
    const member = list.members.get(email.toLowerCase());
    if (!member) throw new Error(`moosend simulator: ${email} is not on list ${listId}`);
    return { list, member };
  };
  const view = (list: MoosendSimList, member: MoosendSimSubscriber): MoosendSimSubscriberView => ({
    ...member,
    CustomFields: { ...member.CustomFields },
    Tags: [...member.Tags],
    Preferences: [...member.Preferences],
    ListID: list.ID,
    Status: STATUS_BY_TYPE[member.SubscribeType],
  });

  /** The automation action "Then post a webhook": only `Event.ContactContext.Id` and `.Tags` are confirmed. */
  const postAutomationWebhook = async (
    trigger: MoosendWebhookDelivery["trigger"],
    list: MoosendSimList,
    member: MoosendSimSubscriber,
  ): Promise<MoosendWebhookDelivery | undefined> => {
    if (!state.webhookUrl) return undefined;
    const body = { Event: { ContactContext: { Id: member.ID, Tags: [...member.Tags] } } };
    const delivery: MoosendWebhookDelivery = {
      url: state.webhookUrl,
      trigger,
      listId: list.ID,
      subscriberId: member.ID,
      body,
      status: "error",
      at: Date.now(),
    };
    try {
      const response = await fetch(state.webhookUrl, {
        method: "POST",
        headers: { "content-type": options.webhook?.contentType ?? "application/json; charset=utf-8" },
        body: JSON.stringify(body),
        redirect: "manual",
        signal: AbortSignal.timeout(options.webhook?.timeoutMs ?? 10_000),
      });
      delivery.status = response.status;
      await response.arrayBuffer();
    } catch (err) {
      delivery.error = err instanceof Error ? err.message : String(err);
    }
    state.deliveries.push(delivery);
    return delivery;
  };

  const moveTo = async (type: SubscribeType, listId: string, email: string, viaAutomation: boolean | undefined) => {
    const { list, member } = memberOf(listId, email);
    changeStatus(member, type, now(), type === 2 ? list.ID : null);
    return viaAutomation ? postAutomationWebhook(type === 2 ? "unsubscribed" : "bounced", list, member) : undefined;
  };

  let closed: Promise<void> | undefined;
  return {
    url: server.url,
    state,
    faults,
    requests,
    limits,
    subscribers: (listId) => {
      const list = listOf(listId);
      return [...list.members.values()].map((member) => view(list, member));
    },
    addSubscriber: (listId, input) => {
      const list = listOf(listId);
      const member = newSubscriber(
        {
          Email: input.email,
          Name: input.name ?? "",
          SubscribeType: TYPE_BY_STATUS[input.status ?? "Subscribed"],
          CustomFields: { ...input.customFields },
          Tags: [...(input.tags ?? [])],
        },
        now(),
      );
      list.members.set(member.Email, member);
      return view(list, member);
    },
    unsubscribe: (listId, email, opts) => moveTo(2, listId, email, opts?.viaAutomation),
    bounce: (listId, email, opts) => moveTo(3, listId, email, opts?.viaAutomation),
    setWebhookUrl: (url) => {
      state.webhookUrl = url;
    },
    sendCampaign: (input) => {
      for (const id of input.listIds) listOf(id);
      const campaign = newCampaign(input, now());
      campaigns.set(campaign.ID, campaign);
      return campaign.ID;
    },
    campaignActivity: (campaignId, email, type) => {
      const campaign = campaigns.get(campaignId.toLowerCase());
      if (!campaign) throw new Error(`moosend simulator: no campaign ${campaignId}`);
      campaign.activity.push({ type, email: email.toLowerCase(), at: now() });
    },
    resetRateLimits: () => routes.resetRateLimits(),
    close: () => (closed ??= server.close()),
  };
}
