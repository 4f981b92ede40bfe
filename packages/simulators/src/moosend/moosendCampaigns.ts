import { randomUUID } from "node:crypto";
import { Router } from "express";
import { moosendDate, sendEnvelope } from "./moosendWire";

export type MoosendActivityType = "Opened" | "LinkClicked";

export interface MoosendSimCampaign {
  ID: string;
  Name: string;
  Subject: string;
  listIds: string[];
  deliveredOn: Date;
  /** One entry per open or click, as Moosend counts them. */
  activity: Array<{ type: MoosendActivityType; email: string; at: Date }>;
}

/** Campaigns page at most 100 per call; a larger PageSize is treated as 100 (Blueprint). */
const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 50;

function pageSizeOf(raw: unknown): number {
  const n = Number(raw ?? DEFAULT_PAGE_SIZE);
  return Number.isInteger(n) && n > 0 ? Math.min(n, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
}

function paging(pageSize: number, page: number, total: number, ascending: boolean) {
  return { PageSize: pageSize, CurrentPage: page, TotalResults: total, TotalPageCount: Math.ceil(total / pageSize), SortExpression: null, SortIsAscending: ascending };
}

/** `From`/`To` as the Blueprint's example writes them (`11-06-2016`, day first); a day's whole span. */
function dayOf(raw: unknown, endOfDay: boolean): Date | undefined {
  const match = typeof raw === "string" ? /^(\d{2})-(\d{2})-(\d{4})$/.exec(raw) : null;
  if (!match) return undefined;
  const start = Date.UTC(Number(match[3]), Number(match[2]) - 1, Number(match[1]));
  return new Date(endOfDay ? start + 86_400_000 - 1 : start);
}

/**
 * Sent campaigns and their per-recipient statistics (`GET /campaigns/{Page}/{PageSize}.json`,
 * `GET /campaigns/{id}/stats/{Type}.json` with `Page`, `PageSize`, `From`, `To`): each recipient one
 * row with `TotalCount`, the Blueprint's shape.
 */
export function moosendCampaignRoutes(campaigns: Map<string, MoosendSimCampaign>, listName: (id: string) => string): Router {
  const router = Router();
  router.get("/v3/campaigns/:page/:pageSize.json", (req, res) => {
    const page = Math.max(1, Number(req.params.page) || 1);
    const pageSize = pageSizeOf(req.params.pageSize);
    const all = [...campaigns.values()];
    const rows = all.slice((page - 1) * pageSize, page * pageSize).map((c) => ({
      ID: c.ID,
      Name: c.Name,
      Subject: c.Subject,
      Status: 3,
      DeliveredOn: moosendDate(c.deliveredOn),
      MailingLists: c.listIds.map((id) => ({ Campaign: null, MailingList: { ID: id, Name: listName(id) }, Segment: null })),
      TotalSent: null,
      IsTransactional: false,
    }));
    sendEnvelope(res, 200, 0, null, { Paging: paging(pageSize, page, all.length, true), Campaigns: rows });
  });
  router.get("/v3/campaigns/:id/stats/:type.json", (req, res) => {
    const campaign = campaigns.get(String(req.params.id).toLowerCase());
    const type = req.params.type;
    if (!campaign || (type !== "Opened" && type !== "LinkClicked")) return sendEnvelope(res, 200, 400, "VALIDATION_ERROR", null);
    const page = Math.max(1, Number(req.query.Page) || 1);
    const pageSize = pageSizeOf(req.query.PageSize);
    const from = dayOf(req.query.From, false);
    const to = dayOf(req.query.To, true);
    const counts = new Map<string, number>();
    for (const a of campaign.activity) {
      if (a.type !== type || (from && a.at < from) || (to && a.at > to)) continue;
      counts.set(a.email, (counts.get(a.email) ?? 0) + 1);
    }
    const rows = [...counts].map(([email, total]) => ({ Context: email, ContextName: "", TotalCount: total, UniqueCount: 0, ContextDescription: null }));
    sendEnvelope(res, 200, 0, null, { Paging: paging(pageSize, page, rows.length, false), Analytics: rows.slice((page - 1) * pageSize, page * pageSize) });
  });
  return router;
}

export function newCampaign(input: { name?: string; subject: string; listIds: string[] }, now: Date): MoosendSimCampaign {
  return { ID: randomUUID(), Name: input.name ?? input.subject, Subject: input.subject, listIds: input.listIds, deliveredOn: now, activity: [] };
}
