import { KOMMO_MAX_PAGE, type KommoClient, type KommoContact, type KommoLead } from "@funnelsync/kommo-client";
import { Batcher } from "@funnelsync/batcher";
import type { KommoRecordRepository } from "@funnelsync/db";
import type { Admission } from "@funnelsync/vendor-http";
import { setTimeout as sleep } from "node:timers/promises";
import { recordContactsRead, recordLeadsRead } from "./kommoRecords";
import { RecentRate } from "./recentRate";

/** Lead look-ups arriving faster than this (per second) are a burst: single reads would spend Kommo's 7 calls a second on near-empty pages. */
const BURST_LEADS_PER_SECOND = 50;
/**
 * Longest a short page of leads waits for more while a burst arrives. A whole second: at 50 leads a
 * second and up, shorter waits send pages of a few dozen, two Kommo calls each, against 7 a second;
 * and a worker busy taking in a burst can pause its look-ups for a few hundred milliseconds.
 */
const FILL_MAX_MS = 1_000;
const FILL_POLL_MS = 10;

/**
 * Lead and contact look-ups for every job in this process, batched: under a burst the worker makes
 * one `filter[id][]` call (with `with=contacts`) per up to 250 leads, and one per 250 contacts,
 * instead of two calls per event against Kommo's 7 requests per second.
 */
export class KommoReader {
  private readonly leads: Batcher<number, number, KommoLead | null, Admission>;
  private readonly contacts: Batcher<number, number, KommoContact | null, Admission>;
  private readonly leadArrivals = new RecentRate();
  private readonly leadsExpected = new RecentRate();

  /** `records`: every page read is recorded there (contacts' leads, leads' stages) for engagement. */
  constructor(kommo: KommoClient, records?: KommoRecordRepository) {
    // Each batch takes its ids only once its rate-limit slot is there: ids arriving while it waited
    // for Kommo's limit still ride on it, instead of waiting for the next slot.
    const options = { maxBatch: KOMMO_MAX_PAGE, missing: () => null, admit: () => kommo.admit() };
    // Under a burst a short page of leads also waits (briefly) for the leads on their way: at the start
    // of one, single reads spent Kommo's first second on a handful of people.
    const readLeads = async (ids: number[], admitted: Admission | undefined) => {
      const readAt = new Date();
      const found = await kommo.getLeads(ids, admitted);
      if (records) await recordLeadsRead(records, ids, found, readAt);
      return found;
    };
    const readContacts = async (ids: number[], admitted: Admission | undefined) => {
      const readAt = new Date();
      const found = await kommo.getContacts(ids, admitted);
      if (records) await recordContactsRead(records, ids, found, readAt);
      return found;
    };
    this.leads = new Batcher((ids, admitted) => readLeads([...ids.keys()], admitted), { ...options, fill: () => this.fillLeadPage() });
    this.contacts = new Batcher((ids, admitted) => readContacts([...ids.keys()], admitted), options);
  }

  /** null when Kommo has no such lead (deleted). */
  lead(id: number): Promise<KommoLead | null> {
    this.leadArrivals.note();
    return this.leads.add(id, id);
  }

  /**
   * Lead look-ups on their way: the Kommo changes of an ingest batch this process has just split.
   * At a burst's start the worker takes in batches faster than their jobs reach the reader, and the
   * look-ups that did arrive went out as pages of one to a few leads, spending most of Kommo's first
   * second. Announced, the burst is seen before its first look-ups.
   */
  expectLeads(count: number): void {
    if (count > 0) this.leadsExpected.note(count);
  }

  private async fillLeadPage(): Promise<void> {
    const deadline = Date.now() + FILL_MAX_MS;
    while (this.leads.waiting < KOMMO_MAX_PAGE && Date.now() < deadline && this.inBurst()) {
      await sleep(FILL_POLL_MS);
    }
  }

  /**
   * The last quarter second sees a burst within its first page (over a whole second its first 50 leads
   * went out as small pages); the whole second keeps seeing it through the pauses of a busy worker.
   * Look-ups announced count apart from those made, so a quiet stream of both is no burst.
   */
  private inBurst(): boolean {
    const perSecond = (rate: RecentRate) => Math.max(rate.perMs(), rate.perMs(250)) * 1000;
    return Math.max(perSecond(this.leadArrivals), perSecond(this.leadsExpected)) >= BURST_LEADS_PER_SECOND;
  }

  contact(id: number): Promise<KommoContact | null> {
    return this.contacts.add(id, id);
  }
}
