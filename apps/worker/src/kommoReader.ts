import { KOMMO_MAX_PAGE, type KommoClient, type KommoContact, type KommoLead } from "@funnelsync/kommo-client";
import { Batcher } from "@funnelsync/batcher";

/**
 * Lead and contact look-ups for every job in this process, batched: under a burst the worker makes
 * one `filter[id][]` call (with `with=contacts`) per up to 250 leads, and one per 250 contacts,
 * instead of two calls per event against Kommo's 7 requests per second.
 */
export class KommoReader {
  private readonly leads: Batcher<number, number, KommoLead | null>;
  private readonly contacts: Batcher<number, number, KommoContact | null>;

  constructor(kommo: KommoClient) {
    const options = { maxBatch: KOMMO_MAX_PAGE, missing: () => null };
    this.leads = new Batcher((ids) => kommo.getLeads([...ids.keys()]), options);
    this.contacts = new Batcher((ids) => kommo.getContacts([...ids.keys()]), options);
  }

  /** null when Kommo has no such lead (deleted). */
  lead(id: number): Promise<KommoLead | null> {
    return this.leads.add(id, id);
  }

  contact(id: number): Promise<KommoContact | null> {
    return this.contacts.add(id, id);
  }
}
