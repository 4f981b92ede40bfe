import { Router } from "express";
import type { KommoAccount } from "./kommoAccount";
import { API, baseOf, filterOf, intOf, listOf, listPage, validationFailed } from "./kommoHttp";
import { isRecord } from "./kommoWire";

/**
 * Kommo's events feed, newest first. `filter[type]` and `filter[entity]` take a list or a
 * comma-separated string; `filter[entity_id]` at most 10 ids.
 * @see https://developers.kommo.com/reference/events-and-notes
 */
export function kommoEventRoutes({ events }: KommoAccount): Router {
  const router = Router();

  router.get(`${API}/events`, (req, res) => {
    const filter = filterOf(req);
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

  return router;
}
