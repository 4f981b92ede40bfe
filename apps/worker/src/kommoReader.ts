import { KOMMO_MAX_PAGE, type KommoClient, type KommoContact, type KommoLead } from "@funnelsync/kommo-client";
import { Batcher } from "@funnelsync/batcher";
import type { Admission } from "@funnelsync/vendor-http";

/**
 * Lead and contact look-ups for every job in this process, batched: under a burst the worker makes
 * one `filter[id][]` call (with `with=contacts`) per up to 250 leads, and one per 250 contacts,
 * instead of two calls per event against Kommo's 7 requests per second.
 */
export class KommoReader {
  private readonly leads: Batcher<number, number, KommoLead | null, Admission>;
  private readonly contacts: Batcher<number, number, KommoContact | null, Admission>;

  constructor(kommo: KommoClient) {
    // Each batch takes its ids only once its rate-limit slot is there: ids arriving while it waited
    // for Kommo's limit still ride on it, instead of waiting for the next slot.
    const options = { maxBatch: KOMMO_MAX_PAGE, missing: () => null, admit: () => kommo.admit() };
    this.leads = new Batcher((ids, admitted) => kommo.getLeads([...ids.keys()], admitted), options);
    this.contacts = new Batcher((ids, admitted) => kommo.getContacts([...ids.keys()], admitted), options);
  }

  /** null when Kommo has no such lead (deleted). */
  lead(id: number): Promise<KommoLead | null> {
    return this.leads.add(id, id);
  }

  contact(id: number): Promise<KommoContact | null> {
    return this.contacts.add(id, id);
  }
}
