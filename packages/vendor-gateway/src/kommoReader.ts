import { KOMMO_MAX_PAGE, type KommoClient, type KommoContact, type KommoLead } from "@funnelsync/kommo-client";
import { Batcher } from "@funnelsync/batcher";
import type { KommoRecordRepository } from "@funnelsync/db";
import type { Admission } from "@funnelsync/vendor-http";
import type { BurstSignal } from "./burst";
import { systemClock, type Clock } from "./clock";
import { readContactsRecorded, readLeadsRecorded } from "./kommoRecords";
import { TUNING } from "./tuning";

const { burstLeadsPerSecond: BURST_LEADS_PER_SECOND, fillMaxMs: FILL_MAX_MS, fillPollMs: FILL_POLL_MS } = TUNING.kommoReader;

/**
 * Lead and contact look-ups for every job in this process, batched: under a burst the worker makes
 * one `filter[id][]` call (with `with=contacts`) per up to 250 leads, and one per 250 contacts,
 * instead of two calls per event against Kommo's 7 requests per second.
 */
export class KommoReader {
  private readonly leads: Batcher<number, number, KommoLead | null, Admission>;
  private readonly contacts: Batcher<number, number, KommoContact | null, Admission>;
  private readonly burst: Pick<BurstSignal, "changesArriving">;
  private readonly clock: Clock;

  /**
   * `burst` tells whether Kommo changes, and with them look-ups, are coming fast; every page read is
   * recorded in `records` (contacts' leads, leads' stages) for engagement.
   */
  constructor(kommo: KommoClient, options: { burst?: Pick<BurstSignal, "changesArriving">; records?: KommoRecordRepository; clock?: Clock } = {}) {
    const { records } = options;
    this.burst = options.burst ?? { changesArriving: () => false };
    this.clock = options.clock ?? systemClock;
    // Each batch takes its ids only once its rate-limit slot is there: ids arriving while it waited
    // for Kommo's limit still ride on it, instead of waiting for the next slot.
    const batching = { maxBatch: KOMMO_MAX_PAGE, missing: () => null, admit: () => kommo.admit() };
    // Under a burst a short page of leads also waits (briefly) for the leads on their way: at the start
    // of one, single reads spent Kommo's first second on a handful of people.
    const readLeads = (ids: number[], admitted?: Admission) => (records ? readLeadsRecorded(kommo, records, ids, admitted) : kommo.getLeads(ids, admitted));
    const readContacts = (ids: number[], admitted?: Admission) => (records ? readContactsRecorded(kommo, records, ids, admitted) : kommo.getContacts(ids, admitted));
    this.leads = new Batcher((ids, admitted) => readLeads([...ids.keys()], admitted), { ...batching, fill: () => this.fillLeadPage() });
    this.contacts = new Batcher((ids, admitted) => readContacts([...ids.keys()], admitted), batching);
  }

  /** null when Kommo has no such lead (deleted). */
  lead(id: number): Promise<KommoLead | null> {
    return this.leads.add(id, id);
  }

  private async fillLeadPage(): Promise<void> {
    const deadline = this.clock.now() + FILL_MAX_MS;
    while (this.leads.waiting < KOMMO_MAX_PAGE && this.clock.now() < deadline && this.inBurst()) {
      await this.clock.sleep(FILL_POLL_MS);
    }
  }

  private inBurst(): boolean {
    return this.burst.changesArriving(BURST_LEADS_PER_SECOND);
  }

  contact(id: number): Promise<KommoContact | null> {
    return this.contacts.add(id, id);
  }
}
