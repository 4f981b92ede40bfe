import type { Mapping } from "@funnelsync/config";
import { fieldValue, preferredEmail, type KommoContact, type KommoLead } from "@funnelsync/kommo-client";
import type { WorkerDeps } from "./processors/types";

/** What one sync of a lead needs, read from Kommo: the lead with its contacts, then the main contact (both batched). */
export interface LeadSnapshot {
  lead: KommoLead;
  contact: KommoContact;
  email: string;
}

export type Resolved = { ok: true; snapshot: LeadSnapshot } | { ok: false; reason: string; contactId?: number };

export async function readLead(deps: Pick<WorkerDeps, "kommo" | "mapping">, leadId: number): Promise<Resolved> {
  const lead = await deps.kommo.lead(leadId);
  if (!lead) return { ok: false, reason: "lead not found in Kommo (deleted?)" };
  if (!lead.mainContactId) return { ok: false, reason: "lead has no main contact" };
  const contact = await deps.kommo.contact(lead.mainContactId);
  if (!contact) return { ok: false, reason: "main contact not found in Kommo", contactId: lead.mainContactId };
  const email = contactEmail(deps.mapping, contact);
  if (!email) return { ok: false, reason: "main contact has no e-mail", contactId: contact.id };
  return { ok: true, snapshot: { lead, contact, email } };
}

/** The one address of the contact we sync (`kommo.emailPreference`). */
export function contactEmail(mapping: Mapping, contact: KommoContact): string | undefined {
  return preferredEmail(contact, mapping.kommo.emailPreference);
}

/** The Loops `userId` we write for a Kommo contact; none when the operator keeps Loops' userId for their own product. */
export function loopsUserId(deps: Pick<WorkerDeps, "mapping">, kommoContactId: number): string | undefined {
  return deps.mapping.loops.userId === "kommoContact" ? String(kommoContactId) : undefined;
}

function asText(value: string | number | boolean | undefined): string {
  return value === undefined || value === null ? "" : String(value);
}

/**
 * The mapped custom fields, each taken from the lead or else its main contact. Moosend gets every
 * mapped field on every subscribe (it clears the ones a subscribe leaves out); Loops gets typed values.
 */
export function mappedFields(mapping: Mapping, lead: KommoLead | undefined, contact: KommoContact) {
  const moosend: Record<string, string> = {};
  const loops: Record<string, string | number | boolean | null> = {};
  for (const field of mapping.fields) {
    const value = (lead ? fieldValue(lead, field.kommoFieldId) : undefined) ?? fieldValue(contact, field.kommoFieldId);
    if (field.moosend) moosend[field.moosend] = asText(value);
    if (field.loops) loops[field.loops] = value === undefined ? null : value;
  }
  return { moosend, loops };
}

/** Kommo keeps one `name`; Loops wants first and last. Kommo's own split wins when it has one. */
export function splitName(contact: KommoContact): { firstName: string; lastName: string } {
  if (contact.firstName || contact.lastName) return { firstName: contact.firstName ?? "", lastName: contact.lastName ?? "" };
  const [first = "", ...rest] = contact.name.trim().split(/\s+/);
  return { firstName: first, lastName: rest.join(" ") };
}
