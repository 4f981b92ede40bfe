import { Router } from "express";
import type { KommoAccount } from "./kommoAccount";
import { snapshotFields } from "./kommoEvents";
import { API, baseOf, emptyRequest, hal, idParam, intOf, planBatch, validationFailed, type Json } from "./kommoHttp";
import type { KommoEntityType, KommoSimLead } from "./kommoState";
import { isRecord, parseCustomFieldsWrite, parseTagRefs, resolveTag, setFieldValues, type KommoFieldError } from "./kommoWire";

/**
 * Edits of leads and contacts, one (`PATCH /leads/{id}`) or a batch of ≤ 250: name, custom fields,
 * tags, and a lead's price, pipeline and stage. Each change fires the entity's update webhooks.
 */
export function kommoPatchRoutes(account: KommoAccount): Router {
  const { state, events } = account;
  const router = Router();

  /** Validates one PATCH item and returns how to apply it; nothing changes unless every item is valid. */
  function planPatch(entityType: KommoEntityType, id: number | null, body: Json, errors: KommoFieldError[]): (() => { oldStatusId?: number }) | undefined {
    const entity = id === null ? undefined : entityType === "leads" ? state.leads.get(id) : state.contacts.get(id);
    if (!entity || entity.isDeleted) {
      errors.push({ code: "NotFound", path: "id", detail: "Entity not found" });
      return undefined;
    }
    if (body.name !== undefined && typeof body.name !== "string") errors.push({ code: "InvalidType", path: "name", detail: "This value should be of type string." });
    const fields = body.custom_fields_values === undefined ? [] : parseCustomFieldsWrite(state, entityType, body.custom_fields_values, errors) ?? [];
    const toAdd = body.tags_to_add === undefined ? [] : parseTagRefs(state, entityType, body.tags_to_add, "tags_to_add", errors);
    const toDelete = body.tags_to_delete === undefined ? [] : parseTagRefs(state, entityType, body.tags_to_delete, "tags_to_delete", errors);
    const embeddedTags = isRecord(body._embedded) && "tags" in body._embedded ? body._embedded.tags : undefined;
    const replaceTags = embeddedTags === undefined ? undefined : embeddedTags === null ? [] : parseTagRefs(state, entityType, embeddedTags, "_embedded.tags", errors);

    let move: { statusId: number; pipelineId: number } | undefined;
    if (entityType === "leads") {
      const lead = entity as KommoSimLead;
      if (body.price !== undefined && body.price !== null && intOf(body.price) === null) errors.push({ code: "InvalidType", path: "price", detail: "This value should be of type int." });
      if (body.status_id !== undefined || body.pipeline_id !== undefined) {
        const pipelineId = body.pipeline_id === undefined ? lead.pipelineId : intOf(body.pipeline_id);
        const pipeline = state.pipelines.find((p) => p.id === pipelineId);
        const statusId = body.status_id === undefined ? pipeline?.statuses[0]?.id : intOf(body.status_id);
        if (!pipeline) errors.push({ code: "NotSupportedChoice", path: "pipeline_id", detail: "The value you selected is not a valid choice." });
        else if (statusId === undefined || statusId === null || !pipeline.statuses.some((s) => s.id === statusId)) {
          errors.push({ code: "NotSupportedChoice", path: "status_id", detail: "The value you selected is not a valid choice." });
        } else move = { statusId, pipelineId: pipeline.id };
      }
    }

    return () => {
      if (typeof body.name === "string") entity.name = body.name;
      const fieldsBefore = snapshotFields(entity.customFields);
      for (const update of fields) setFieldValues(entity, update);
      events.fieldChanges({ type: entityType === "leads" ? "lead" : "contact", id: entity.id }, fieldsBefore, entity.customFields, account.by);
      if (replaceTags !== undefined) {
        entity.tags = [...new Map(replaceTags.map((ref) => resolveTag(state, entityType, ref)).map((t) => [t.id, t])).values()];
      } else {
        for (const tag of toAdd.map((ref) => resolveTag(state, entityType, ref))) if (!entity.tags.some((t) => t.id === tag.id)) entity.tags.push(tag);
        const drop = new Set(toDelete.map((ref) => resolveTag(state, entityType, ref).id));
        entity.tags = entity.tags.filter((t) => !drop.has(t.id));
      }
      let oldStatusId: number | undefined;
      if (entityType === "leads") {
        const lead = entity as KommoSimLead;
        if (body.price !== undefined) lead.price = body.price === null ? null : intOf(body.price);
        if (move && (move.statusId !== lead.statusId || move.pipelineId !== lead.pipelineId)) {
          oldStatusId = lead.statusId;
          account.setStatus(lead, move.statusId, move.pipelineId);
        }
      }
      entity.updatedAt = account.nowSec();
      return { oldStatusId };
    };
  }

  function afterPatch(entityType: KommoEntityType, id: number, result: { oldStatusId?: number }): void {
    if (entityType === "leads") void account.webhooks.send(account.leadEvents(state.leads.get(id)!, result.oldStatusId));
    else void account.webhooks.send([account.contactEvent(state.contacts.get(id)!, "update")]);
  }

  const updatedAtOf = (entityType: KommoEntityType, id: number) => (entityType === "leads" ? state.leads.get(id) : state.contacts.get(id))!.updatedAt;

  for (const entityType of ["leads", "contacts"] as const) {
    router.patch(`${API}/${entityType}/:id`, (req, res, next) => {
      const id = idParam(req);
      if (id === null) return next();
      const body: unknown = req.body;
      if (!isRecord(body) || Object.keys(body).length === 0) return emptyRequest(res);
      const errors: KommoFieldError[] = [];
      const apply = planPatch(entityType, id, body, errors);
      if (errors.length || !apply) return validationFailed(res, [{ requestId: "0", errors }]);
      const result = apply();
      hal(res, 200, { id, updated_at: updatedAtOf(entityType, id), _links: { self: { href: `${baseOf(req)}/${entityType}/${id}` } } });
      afterPatch(entityType, id, result);
    });

    router.patch(`${API}/${entityType}`, (req, res) => {
      const body: unknown = req.body;
      if (isRecord(body) && Object.keys(body).length) {
        return validationFailed(res, [{ requestId: "0", errors: [{ code: "InvalidType", path: "", detail: "This value should be of type array." }] }]);
      }
      const plans = planBatch(req, res, (entry, _i, errors) => {
        const id = intOf(entry.id);
        return { id, apply: planPatch(entityType, id, entry, errors) };
      });
      if (!plans) return;
      const results = plans.map((plan) => ({ ...plan, result: plan.apply!() }));
      hal(res, 200, {
        _links: { self: { href: `${baseOf(req)}/${entityType}` } },
        _embedded: {
          [entityType]: results.map(({ id, requestId }) => ({
            id,
            updated_at: updatedAtOf(entityType, id!),
            request_id: requestId,
            _links: { self: { href: `${baseOf(req)}/${entityType}/${id}` } },
          })),
        },
      });
      for (const { id, result } of results) afterPatch(entityType, id!, result);
    });
  }

  return router;
}
