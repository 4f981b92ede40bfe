import { Router } from "express";
import { SEED } from "../seed";
import type { KommoAccount } from "./kommoAccount";
import { API, baseOf, filterOf, hal, intOf, listOf, listPage, orderBy, planBatch, updatedWithin } from "./kommoHttp";
import type { KommoEntityType, KommoSimTask } from "./kommoState";

/** Tasks: listed, or added in batches of ≤ 250. */
export function kommoTaskRoutes(account: KommoAccount): Router {
  const { state } = account;
  const router = Router();

  router.get(`${API}/tasks`, (req, res) => {
    const filter = filterOf(req);
    const entityType = typeof filter.entity_type === "string" ? filter.entity_type : null;
    const entityIds = new Set(listOf(filter.entity_id).map(intOf));
    const completed = filter.is_completed === undefined ? null : String(filter.is_completed) === "1";
    const within = updatedWithin(filter);
    const tasks = state.tasks
      .filter(
        (t) =>
          (entityType === null || t.entityType === entityType) &&
          (entityIds.size === 0 || (t.entityId !== null && entityIds.has(t.entityId))) &&
          (completed === null || t.isCompleted === completed) &&
          within(t.createdAt),
      )
      .map((t) => ({ ...t, updatedAt: t.createdAt }));
    listPage(req, res, orderBy(tasks, req.query.order), "tasks", (t) => ({
      id: t.id,
      created_by: SEED.kommo.responsibleUserId,
      updated_by: SEED.kommo.responsibleUserId,
      created_at: t.createdAt,
      updated_at: t.updatedAt,
      responsible_user_id: t.responsibleUserId,
      group_id: 0,
      entity_id: t.entityId,
      entity_type: t.entityType,
      is_completed: t.isCompleted,
      task_type_id: t.taskTypeId,
      text: t.text,
      duration: 0,
      complete_till: t.completeTill,
      result: [],
      account_id: SEED.kommo.accountId,
      _links: { self: { href: `${baseOf(req)}/tasks/${t.id}` } },
    }));
  });

  router.post(`${API}/tasks`, (req, res) => {
    const drafts = planBatch(req, res, (entry, _i, errors) => {
      if (typeof entry.text !== "string" || entry.text.trim() === "") errors.push({ code: "NotBlank", path: "text", detail: "This value should not be blank." });
      if (entry.complete_till === undefined) errors.push({ code: "NotBlank", path: "complete_till", detail: "This value should not be blank." });
      else if (typeof entry.complete_till !== "number" || !Number.isSafeInteger(entry.complete_till)) {
        errors.push({ code: "InvalidType", path: "complete_till", detail: "This value should be of type int." });
      }
      const entityType = entry.entity_type === undefined ? null : entry.entity_type;
      let entityId: number | null = null;
      if (entityType !== null) {
        if (entityType !== "leads" && entityType !== "contacts") {
          errors.push({ code: "NotSupportedChoice", path: "entity_type", detail: "The value you selected is not a valid choice." });
        } else {
          entityId = intOf(entry.entity_id);
          const entity = entityId === null ? undefined : entityType === "leads" ? state.leads.get(entityId) : state.contacts.get(entityId);
          if (!entity || entity.isDeleted) errors.push({ code: "NotFound", path: "entity_id", detail: "Entity not found" });
        }
      }
      const taskTypeId = entry.task_type_id === undefined ? 1 : intOf(entry.task_type_id);
      if (taskTypeId !== 1 && taskTypeId !== 2) errors.push({ code: "NotSupportedChoice", path: "task_type_id", detail: "The value you selected is not a valid choice." });
      const responsibleUserId = entry.responsible_user_id === undefined ? SEED.kommo.responsibleUserId : intOf(entry.responsible_user_id);
      if (responsibleUserId !== SEED.kommo.responsibleUserId) {
        errors.push({ code: "NotSupportedChoice", path: "responsible_user_id", detail: "The value you selected is not a valid choice." });
      }
      return { entry, entityType: entityType as KommoEntityType | null, entityId, taskTypeId: taskTypeId ?? 1 };
    });
    if (!drafts) return;
    const created = drafts.map((draft) => {
      const task: KommoSimTask = {
        id: state.nextId.task++, entityType: draft.entityType, entityId: draft.entityId, text: String(draft.entry.text),
        completeTill: Number(draft.entry.complete_till), taskTypeId: draft.taskTypeId, responsibleUserId: SEED.kommo.responsibleUserId,
        isCompleted: false, createdAt: account.nowSec(),
      };
      state.tasks.push(task);
      return { id: task.id, request_id: draft.requestId, _links: { self: { href: `${baseOf(req)}/tasks/${task.id}` } } };
    });
    hal(res, 200, { _links: { self: { href: `${baseOf(req)}/tasks` } }, _embedded: { tasks: created } });
  });

  return router;
}
