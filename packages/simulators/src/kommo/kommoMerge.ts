import { KommoEventLog, snapshotFields } from "./kommoEvents";
import { KOMMO_SIM_FIELDS, type KommoSimContact, type KommoSimFieldValue, type KommoSimState } from "./kommoState";
import type { KommoHook } from "./kommoWebhookSender";
import { contactHookItem, hookBody, leadHookItem } from "./kommoWebhooks";
import { setFieldValues } from "./kommoWire";

/** The multi-value fields whose values a merge combines; other fields keep the survivor's values. */
const COMBINED_FIELDS: readonly number[] = [KOMMO_SIM_FIELDS.email, KOMMO_SIM_FIELDS.phone];

/** Adds the loser's values the survivor lacks (compared case-insensitively), after the survivor's own. */
function combined(survivor: KommoSimFieldValue | undefined, loser: KommoSimFieldValue | undefined, fieldId: number): KommoSimFieldValue | undefined {
  if (!loser?.values.length) return undefined;
  const own = survivor?.values ?? [];
  const known = new Set(own.map((v) => String(v.value).trim().toLowerCase()));
  const added = loser.values.filter((v) => !known.has(String(v.value).trim().toLowerCase())).map((v) => ({ ...v }));
  return added.length ? { fieldId, values: [...own.map((v) => ({ ...v })), ...added] } : undefined;
}

/**
 * Merges `loserId` into `survivorId` as Kommo's duplicate control and merge widgets do in the
 * background, and returns the webhooks the merge fires. The survivor keeps its id and its own field
 * values and gains the loser's e-mail addresses and phones as additional values; the loser's leads
 * move to the survivor (the survivor becomes main contact where the loser was); the loser is deleted.
 *
 * Kommo documents none of this, so the details are a conservative guess: the events feed gets
 * `entity_unlinked` / `entity_linked` on each moved lead, a `custom_field_…_value_changed` for each
 * combined field of the survivor and `contact_deleted` for the loser; the webhooks are `update_lead`
 * per moved lead, `update_contact` for the survivor, then `delete_contact` for the loser.
 */
export function mergeContacts(
  state: KommoSimState,
  events: KommoEventLog,
  ids: { survivorId: number; loserId: number },
  at: { nowSec: number; by: number },
): KommoHook[] {
  const contact = (id: number): KommoSimContact => {
    const found = state.contacts.get(id);
    if (!found || found.isDeleted) throw new Error(`kommo simulator: no contact ${id}`);
    return found;
  };
  if (ids.survivorId === ids.loserId) throw new Error("kommo simulator: a contact cannot be merged into itself");
  const survivor = contact(ids.survivorId);
  const loser = contact(ids.loserId);
  const { nowSec, by } = at;
  const link = (id: number) => [{ link: { entity: { type: "contact", id } } }];

  const moved = [...state.leads.values()].filter((lead) => !lead.isDeleted && lead.contacts.some((c) => c.id === loser.id));
  for (const lead of moved) {
    const wasMain = lead.contacts.find((c) => c.id === loser.id)!.isMain;
    const kept = lead.contacts.filter((c) => c.id !== loser.id);
    const already = kept.find((c) => c.id === survivor.id);
    if (already) already.isMain ||= wasMain;
    else kept.push({ id: survivor.id, isMain: wasMain });
    lead.contacts = wasMain ? kept.map((c) => ({ ...c, isMain: c.id === survivor.id })) : kept;
    lead.updatedAt = nowSec;
    events.record("entity_unlinked", { type: "lead", id: lead.id }, { before: link(loser.id), by });
    events.record("entity_linked", { type: "lead", id: lead.id }, { after: link(survivor.id), by });
  }

  const fieldsBefore = snapshotFields(survivor.customFields);
  for (const fieldId of COMBINED_FIELDS) {
    const field = (c: KommoSimContact) => c.customFields.find((f) => f.fieldId === fieldId);
    const merged = combined(field(survivor), field(loser), fieldId);
    if (merged) setFieldValues(survivor, merged);
  }
  events.fieldChanges({ type: "contact", id: survivor.id }, fieldsBefore, survivor.customFields, by);
  survivor.updatedAt = nowSec;

  loser.isDeleted = true;
  loser.updatedAt = nowSec;
  events.record("contact_deleted", { type: "contact", id: loser.id }, { by });

  return [
    ...moved.map((lead): KommoHook => ["update_lead", hookBody(state, "leads", "update", leadHookItem(state, lead))]),
    ["update_contact", hookBody(state, "contacts", "update", contactHookItem(state, survivor))],
    ["delete_contact", hookBody(state, "contacts", "delete", { id: loser.id, type: "contact" })],
  ];
}
