import { Router } from "express";
import type { KommoAccount } from "./kommoAccount";
import { API, baseOf, filterOf, fuzzyMatch, hal, idParam, intOf, listOf, listPage, orderBy, withSet } from "./kommoHttp";
import { leadIdsByContact, renderContact } from "./kommoWire";

/** Lists and reads of contacts (`with=leads` embeds their leads). */
export function kommoContactRoutes({ state }: KommoAccount): Router {
  const router = Router();

  router.get(`${API}/contacts`, (req, res) => {
    const filter = filterOf(req);
    const ids = new Set(listOf(filter.id).map(intOf));
    const query = typeof req.query.query === "string" ? req.query.query : "";
    const contacts = [...state.contacts.values()].filter((c) => !c.isDeleted && (ids.size === 0 || ids.has(c.id)) && fuzzyMatch(c, query));
    const withLeads = withSet(req).has("leads");
    const leadIndex = withLeads ? leadIdsByContact(state) : undefined;
    listPage(req, res, orderBy(contacts, req.query.order), "contacts", (c) => renderContact(state, c, baseOf(req), withLeads, leadIndex));
  });

  router.get(`${API}/contacts/:id`, (req, res, next) => {
    const id = idParam(req);
    if (id === null) return next();
    const contact = state.contacts.get(id);
    if (!contact || contact.isDeleted) return void res.status(204).end();
    hal(res, 200, renderContact(state, contact, baseOf(req), withSet(req).has("leads")));
  });

  return router;
}
