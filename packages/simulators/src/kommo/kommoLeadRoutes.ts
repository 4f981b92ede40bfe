import { Router } from "express";
import type { KommoAccount } from "./kommoAccount";
import { API, baseOf, filterOf, fuzzyMatch, hal, idParam, intOf, listOf, listPage, orderBy, updatedWithin, withSet } from "./kommoHttp";
import { isRecord, renderLead } from "./kommoWire";

/** Lists and reads of leads (`with=contacts` embeds their contacts). */
export function kommoLeadRoutes({ state }: KommoAccount): Router {
  const router = Router();

  router.get(`${API}/leads`, (req, res) => {
    const filter = filterOf(req);
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

  router.get(`${API}/leads/:id`, (req, res, next) => {
    const id = idParam(req);
    if (id === null) return next();
    const lead = state.leads.get(id);
    if (!lead || lead.isDeleted) return void res.status(204).end();
    hal(res, 200, renderLead(state, lead, baseOf(req), withSet(req).has("contacts")));
  });

  return router;
}
