import type { KommoRecordRepository } from "@funnelsync/db";
import type { KommoContact, KommoLead } from "@funnelsync/kommo-client";

/**
 * Keeps the Kommo records in step with a read of leads sent at `readAt`: what Kommo answered is
 * recorded, and what it was asked for and no longer has (deleted) is forgotten.
 */
export async function recordLeadsRead(records: KommoRecordRepository, asked: readonly number[], found: ReadonlyMap<number, KommoLead>, readAt: Date): Promise<void> {
  await records.recordLeads([...found.values()], readAt);
  await records.forgetLeads(asked.filter((id) => !found.has(id)));
}

/** The same for a read of contacts: a contact Kommo no longer has was deleted or merged into another. */
export async function recordContactsRead(records: KommoRecordRepository, asked: readonly number[], found: ReadonlyMap<number, KommoContact>, readAt: Date): Promise<void> {
  await records.recordContacts([...found.values()], readAt);
  await records.forgetContacts(asked.filter((id) => !found.has(id)));
}
