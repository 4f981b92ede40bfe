import type { KommoRecordRepository } from "@funnelsync/db";
import type { KommoClient, KommoContact, KommoLead } from "@funnelsync/kommo-client";
import type { Admission } from "@funnelsync/vendor-http";

/**
 * Reads leads from Kommo and keeps the records in step with the read: what Kommo answered is
 * recorded as of when the read was sent, and what it was asked for and no longer has (deleted) is
 * forgotten.
 */
export async function readLeadsRecorded(kommo: KommoClient, records: KommoRecordRepository, ids: readonly number[], admitted?: Admission): Promise<Map<number, KommoLead>> {
  const readAt = new Date();
  const found = await kommo.getLeads(ids, admitted);
  await records.recordLeads([...found.values()], readAt);
  await records.forgetLeads(ids.filter((id) => !found.has(id)));
  return found;
}

/** The same for contacts: a contact Kommo no longer has was deleted or merged into another. */
export async function readContactsRecorded(kommo: KommoClient, records: KommoRecordRepository, ids: readonly number[], admitted?: Admission): Promise<Map<number, KommoContact>> {
  const readAt = new Date();
  const found = await kommo.getContacts(ids, admitted);
  await records.recordContacts([...found.values()], readAt);
  await records.forgetContacts(ids.filter((id) => !found.has(id)));
  return found;
}
