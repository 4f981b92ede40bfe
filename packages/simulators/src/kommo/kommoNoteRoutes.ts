import { Router, type Request, type Response } from "express";
import { SEED } from "../seed";
import type { KommoAccount } from "./kommoAccount";
import { API, baseOf, entityParam, filterOf, hal, idParam, intOf, listOf, listPage, orderBy, planBatch, updatedWithin } from "./kommoHttp";
import type { KommoEntityType, KommoSimNote } from "./kommoState";
import { hookBody, noteHookItem } from "./kommoWebhooks";
import { isRecord } from "./kommoWire";

const NOTE_TYPES = new Set([
  "common", "call_in", "call_out", "service_message", "extended_service_message", "message_cashier",
  "geolocation", "sms_in", "sms_out", "attachment",
]);

/** Notes on leads and contacts: added in batches (firing `note_lead` / `note_contact`), edited, listed. */
export function kommoNoteRoutes(account: KommoAccount): Router {
  const { state } = account;
  const router = Router();

  function addNotes(req: Request, res: Response, entityType: KommoEntityType, pathEntityId: number | null): void {
    const drafts = planBatch(req, res, (entry, _i, errors) => {
      const entityId = pathEntityId ?? intOf(entry.entity_id);
      const entity = entityId === null ? undefined : entityType === "leads" ? state.leads.get(entityId) : state.contacts.get(entityId);
      if (!entity || entity.isDeleted) errors.push({ code: "NotFound", path: "entity_id", detail: "Entity not found" });
      const noteType = entry.note_type;
      if (typeof noteType !== "string" || !NOTE_TYPES.has(noteType)) errors.push({ code: "NotSupportedChoice", path: "note_type", detail: "The value you selected is not a valid choice." });
      const params = isRecord(entry.params) ? entry.params : {};
      if (noteType === "common" && (typeof params.text !== "string" || params.text.trim() === "")) {
        errors.push({ code: "NotBlank", path: "params.text", detail: "This value should not be blank." });
      }
      return { entityId: entityId ?? 0, noteType: String(noteType), params };
    });
    if (!drafts) return;
    const notes = drafts.map((draft) => {
      const note: KommoSimNote = { id: state.nextId.note++, entityType, entityId: draft.entityId, noteType: draft.noteType, params: draft.params, createdAt: account.nowSec() };
      state.notes.push(note);
      return note;
    });
    const created = notes.map((note, i) => ({ id: note.id, entity_id: note.entityId, request_id: drafts[i]!.requestId, _links: { self: { href: `${baseOf(req)}/${entityType}/${note.entityId}/notes/${note.id}` } } }));
    hal(res, 200, { _links: { self: { href: `${baseOf(req)}/${entityType}/notes` } }, _embedded: { notes: created } });
    // API writes fire the hooks subscribed to them, as the UI's do (vendor-apis.md §1.7).
    void account.webhooks.send(notes.map((note) => [entityType === "leads" ? "note_lead" : "note_contact", hookBody(state, entityType, "note", noteHookItem(state, note))]));
  }

  /** Edits notes in place (the SDK's `EntityNotes::update`): `[{id, note_type, params}]`, ≤ 250; the note keeps its id. */
  router.patch(`${API}/:entity/notes`, (req, res, next) => {
    const entityType = entityParam(req);
    if (!entityType) return next();
    const edits = planBatch(req, res, (entry, _i, errors) => {
      const id = intOf(entry.id);
      const note = id === null ? undefined : state.notes.find((n) => n.id === id && n.entityType === entityType);
      if (!note) errors.push({ code: "NotFound", path: "id", detail: "Entity not found" });
      const params = isRecord(entry.params) ? entry.params : undefined;
      if (note?.noteType === "common" && params !== undefined && (typeof params.text !== "string" || params.text.trim() === "")) {
        errors.push({ code: "NotBlank", path: "params.text", detail: "This value should not be blank." });
      }
      return { note, params };
    });
    if (!edits) return;
    const updated = edits.map(({ requestId, note, params }) => {
      if (params) note!.params = { ...note!.params, ...params };
      note!.updatedAt = account.nowSec();
      return { id: note!.id, entity_id: note!.entityId, updated_at: note!.updatedAt, request_id: requestId, _links: { self: { href: `${baseOf(req)}/${entityType}/${note!.entityId}/notes/${note!.id}` } } };
    });
    hal(res, 200, { _links: { self: { href: `${baseOf(req)}/${entityType}/notes` } }, _embedded: { notes: updated } });
  });

  router.post(`${API}/:entity/notes`, (req, res, next) => {
    const entity = entityParam(req);
    if (!entity) return next();
    addNotes(req, res, entity, null);
  });

  router.post(`${API}/:entity/:id/notes`, (req, res, next) => {
    const entity = entityParam(req);
    const id = idParam(req);
    if (!entity || id === null) return next();
    addNotes(req, res, entity, id);
  });

  router.get(`${API}/:entity/:id/notes`, (req, res, next) => {
    const entity = entityParam(req);
    const id = idParam(req);
    if (!entity || id === null) return next();
    const filter = filterOf(req);
    const types = new Set(listOf(filter.note_type).map(String));
    const within = updatedWithin(filter);
    const notes = state.notes
      .filter((n) => n.entityType === entity && n.entityId === id && (types.size === 0 || types.has(n.noteType)) && within(n.updatedAt ?? n.createdAt))
      .map((n) => ({ ...n, updatedAt: n.updatedAt ?? n.createdAt }));
    listPage(req, res, orderBy(notes, req.query.order), "notes", (n) => ({
      id: n.id,
      entity_id: n.entityId,
      created_by: SEED.kommo.responsibleUserId,
      updated_by: SEED.kommo.responsibleUserId,
      created_at: n.createdAt,
      updated_at: n.updatedAt,
      responsible_user_id: SEED.kommo.responsibleUserId,
      group_id: 0,
      note_type: n.noteType,
      params: n.params,
      account_id: SEED.kommo.accountId,
      _links: { self: { href: `${baseOf(req)}/${entity}/${n.entityId}/notes/${n.id}` } },
    }));
  });

  return router;
}
