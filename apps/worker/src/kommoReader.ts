import { KOMMO_MAX_PAGE, type KommoClient, type KommoContact, type KommoLead } from "@funnelsync/kommo-client";
import { BatchLoader } from "./batchLoader";

/**
 * Lead and contact look-ups for every job in this process, batched: under a burst the worker makes
 * one `filter[id][]` call (with `with=contacts`) per up to 250 leads, and one per 250 contacts,
 * instead of two calls per event against Kommo's 7 requests per second.
 */
export class KommoReader {
  private readonly leads: BatchLoader<number, KommoLead | null>;
  private readonly contacts: BatchLoader<number, KommoContact | null>;

  constructor(kommo: KommoClient) {
    this.leads = new BatchLoader((ids) => kommo.getLeads(ids), KOMMO_MAX_PAGE, () => null);
    this.contacts = new BatchLoader((ids) => kommo.getContacts(ids), KOMMO_MAX_PAGE, () => null);
  }

  /** null when Kommo has no such lead (deleted). */
  lead(id: number): Promise<KommoLead | null> {
    return this.leads.load(id);
  }

  contact(id: number): Promise<KommoContact | null> {
    return this.contacts.load(id);
  }
}
