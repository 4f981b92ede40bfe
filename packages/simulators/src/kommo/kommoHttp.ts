import { STATUS_CODES } from "node:http";
import type { Request, Response } from "express";
import qs from "qs";
import type { KommoEntityType, KommoSimContact, KommoSimFieldValue } from "./kommoState";
import { isRecord, type KommoFieldError } from "./kommoWire";

/** Routes carry the full path (not a mount point), so the request log shows `/api/v4/...` as sent. */
export const API = "/api/v4";
export const MAX_BATCH = 250;

export type Json = Record<string, unknown>;

export function problem(res: Response, status: number, title: string, detail: string, extra: Json = {}): void {
  res.status(status).type("application/problem+json").send(JSON.stringify({ title, type: `https://httpstatus.es/${status}`, status, detail, ...extra }));
}

export function hal(res: Response, status: number, body: unknown): void {
  res.status(status).type("application/hal+json").send(JSON.stringify(body));
}

export function nginxPage(res: Response, status: number): void {
  const line = `${status} ${STATUS_CODES[status] ?? "Error"}`;
  res
    .status(status)
    .type("text/html")
    .send(`<html>\r\n<head><title>${line}</title></head>\r\n<body>\r\n<center><h1>${line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`);
}

export function validationFailed(res: Response, items: Array<{ requestId: string; errors: KommoFieldError[] }>): void {
  problem(res, 400, "Bad Request", "Request validation failed", {
    "validation-errors": items.map((item) => ({ request_id: item.requestId, errors: item.errors })),
  });
}

export function emptyRequest(res: Response): void {
  problem(res, 400, "Bad Request", "Request data can not be empty");
}

/** qs gives arrays, index-keyed objects or a scalar; PHP reads them all as lists. */
export function listOf(value: unknown): unknown[] {
  if (value === undefined || value === null || value === "") return [];
  if (Array.isArray(value)) return value;
  return typeof value === "object" ? Object.values(value) : [value];
}

export function intOf(value: unknown): number | null {
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  return typeof value === "string" && /^\d{1,15}$/.test(value) ? Number(value) : null;
}

export function idParam(req: Request): number | null {
  return intOf(req.params.id);
}

/** The `leads` or `contacts` of a `/:entity/...` path, or null for any other segment. */
export function entityParam(req: Request): KommoEntityType | null {
  const entity = req.params.entity;
  return entity === "leads" || entity === "contacts" ? entity : null;
}

export function withSet(req: Request): Set<string> {
  return new Set(listOf(req.query.with).flatMap((w) => String(w).split(",")).map((w) => w.trim()));
}

export function baseOf(req: Request): string {
  return `${req.protocol}://${req.get("host")}${API}`;
}

export function filterOf(req: Request): Json {
  return isRecord(req.query.filter) ? req.query.filter : {};
}

export function fuzzyMatch(entity: { id: number; name: string; customFields: KommoSimFieldValue[] } & Partial<KommoSimContact>, query: string): boolean {
  const needle = query.trim().toLowerCase();
  if (!needle) return true;
  const haystack = [String(entity.id), entity.name, entity.firstName ?? "", entity.lastName ?? "", ...entity.customFields.flatMap((f) => f.values.map((v) => String(v.value)))];
  return haystack.some((text) => text.toLowerCase().includes(needle));
}

/** `filter[updated_at][from|to]` (unix s), as Kommo's lists of leads, notes and tasks take it. */
export function updatedWithin(filter: Json): (at: number) => boolean {
  const range = isRecord(filter.updated_at) ? filter.updated_at : {};
  const from = intOf(range.from);
  const to = intOf(range.to);
  return (at) => (from === null || at >= from) && (to === null || at <= to);
}

export function orderBy<T extends { id: number; updatedAt: number; createdAt: number }>(items: T[], order: unknown): T[] {
  const spec = isRecord(order) ? order : {};
  const [key, direction] = (Object.entries(spec)[0] ?? ["id", "asc"]) as [string, unknown];
  const pick = key === "updated_at" ? (x: T) => x.updatedAt : key === "created_at" ? (x: T) => x.createdAt : (x: T) => x.id;
  const sign = String(direction).toLowerCase() === "desc" ? -1 : 1;
  return [...items].sort((a, b) => sign * (pick(a) - pick(b) || a.id - b.id));
}

/** A list answer with Kommo's paging: `limit` ≤ 250 (more → 422), 204 when the page is empty, `next` only when more exist. */
export function listPage<T>(req: Request, res: Response, items: T[], key: string, render: (item: T) => unknown): void {
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
 * A batch write's body: a non-empty array of ≤ 250 items, each checked by `plan` (which pushes its
 * errors); Kommo refuses the whole batch if any item fails. Undefined once the error is answered.
 */
export function planBatch<T>(req: Request, res: Response, plan: (entry: Json, index: number, errors: KommoFieldError[]) => T): Array<T & { requestId: string }> | undefined {
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
