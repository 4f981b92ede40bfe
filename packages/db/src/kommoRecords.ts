import type { PrismaClient } from "./generated/prisma/client";

/** A contact as read from Kommo, as far as the record keeps it. */
export interface ContactLeadsRead {
  id: number;
  leadIds: readonly number[];
  /** Kommo's `updated_at`, unix seconds */
  updatedAt: number;
}

/** A lead as read from Kommo, as far as the record keeps it. */
export interface LeadRead {
  id: number;
  pipelineId: number;
  statusId: number;
  responsibleUserId: number | null;
  /** Kommo's `updated_at`, unix seconds */
  updatedAt: number;
  contactIds: readonly number[];
}

export interface LeadStateRow {
  id: number;
  pipelineId: number;
  statusId: number;
  responsibleUserId: number | null;
}

/**
 * What the worker last read from Kommo of contacts' leads and of leads' stages and responsible users
 * (`kommo_contact_leads`, `kommo_lead_states`), kept by every read forward sync makes, so engagement
 * finds a person's open leads without asking Kommo. A record is dropped when Kommo no longer has the
 * contact or lead; what has none is read from Kommo.
 */
export interface KommoRecordRepository {
  /**
   * Each contact's leads, as this read of it shows them. `readAt`: when the read was sent; a read
   * older than the record (by Kommo's `updated_at`, then by when it was sent) is ignored, so a read
   * that was on its way while the contact changed does not undo the record of a later one.
   */
  recordContacts(contacts: readonly ContactLeadsRead[], readAt: Date): Promise<void>;
  /**
   * Each lead's stage and responsible user; a read older than the record is ignored (as for contacts).
   * The lead's contacts are its whole list: it joins the recorded leads of each, and leaves those of any other.
   */
  recordLeads(leads: readonly LeadRead[], readAt: Date): Promise<void>;
  /** Leads Kommo no longer has (deleted): out of the lead states and every contact's leads. */
  forgetLeads(leadIds: readonly number[]): Promise<void>;
  /** Contacts Kommo no longer has (deleted, or merged into another). */
  forgetContacts(contactIds: readonly number[]): Promise<void>;
  /** The recorded leads of these contacts, by contact; a contact without a record is absent. */
  contactLeads(contactIds: readonly number[]): Promise<Map<number, number[]>>;
  /** The recorded stage and responsible user of these leads, by lead; a lead without a record is absent. */
  leadStates(leadIds: readonly number[]): Promise<Map<number, LeadStateRow>>;
}

/** The last of each id: one INSERT … ON CONFLICT may not touch a row twice. */
function lastById<T extends { id: number }>(items: readonly T[]): T[] {
  return [...new Map(items.map((item) => [item.id, item])).values()];
}

export function createKommoRecordRepository(prisma: PrismaClient): KommoRecordRepository {
  return {
    async recordContacts(given, readAt) {
      const contacts = lastById(given);
      if (contacts.length === 0) return;
      // A contact's leads travel as one comma-separated text each (unnest cannot take an array of arrays of
      // different lengths), in id order, as a lead's read writes them.
      await prisma.$executeRaw`
        INSERT INTO kommo_contact_leads (contact_id, lead_ids, kommo_updated_at, read_at, recorded_at)
        SELECT contact_id, COALESCE(string_to_array(NULLIF(lead_ids, ''), ',')::int[], '{}'), kommo_updated_at, ${readAt}, now()
        FROM unnest(${contacts.map((c) => c.id)}::int[], ${contacts.map((c) => [...c.leadIds].sort((a, b) => a - b).join(","))}::text[], ${contacts.map((c) => c.updatedAt)}::int[])
          AS t(contact_id, lead_ids, kommo_updated_at)
        ON CONFLICT (contact_id) DO UPDATE SET lead_ids = EXCLUDED.lead_ids, kommo_updated_at = EXCLUDED.kommo_updated_at, read_at = EXCLUDED.read_at, recorded_at = now()
        WHERE (kommo_contact_leads.kommo_updated_at, kommo_contact_leads.read_at) <= (EXCLUDED.kommo_updated_at, EXCLUDED.read_at)`;
    },

    async recordLeads(given, readAt) {
      const leads = lastById(given);
      if (leads.length === 0) return;
      await prisma.$executeRaw`
        INSERT INTO kommo_lead_states (lead_id, pipeline_id, status_id, responsible_user_id, kommo_updated_at, read_at, recorded_at)
        SELECT *, ${readAt}::timestamptz, now() FROM unnest(${leads.map((l) => l.id)}::int[], ${leads.map((l) => l.pipelineId)}::int[], ${leads.map((l) => l.statusId)}::int[],
                                    ${leads.map((l) => l.responsibleUserId)}::int[], ${leads.map((l) => l.updatedAt)}::int[])
        ON CONFLICT (lead_id) DO UPDATE SET pipeline_id = EXCLUDED.pipeline_id, status_id = EXCLUDED.status_id,
          responsible_user_id = EXCLUDED.responsible_user_id, kommo_updated_at = EXCLUDED.kommo_updated_at, read_at = EXCLUDED.read_at, recorded_at = now()
        WHERE (kommo_lead_states.kommo_updated_at, kommo_lead_states.read_at) <= (EXCLUDED.kommo_updated_at, EXCLUDED.read_at)`;
      const leadIds = leads.map((l) => l.id);
      const pairs = leads.flatMap((l) => l.contactIds.map((contactId) => [contactId, l.id] as const));
      // Every recorded contact that holds one of these leads, or that one of them names, gets its list
      // recomputed: its other leads, plus these leads where they name it; only a list that changes is
      // written. A contact without a record gets none here: a partial list would read as all its leads.
      // (The contacts are gathered first, so each way in takes its index: an OR of both had Postgres read
      // the whole table on every lead page.)
      await prisma.$executeRaw`
        WITH pairs AS (SELECT * FROM unnest(${pairs.map(([c]) => c)}::int[], ${pairs.map(([, l]) => l)}::int[]) AS p(contact_id, lead_id)),
        named AS (SELECT contact_id, array_agg(lead_id) AS lead_ids FROM pairs GROUP BY contact_id),
        fresh AS (
          SELECT c.contact_id, ARRAY(SELECT x FROM unnest(c.lead_ids) AS x WHERE x <> ALL(${leadIds}::int[]) UNION SELECT unnest(n.lead_ids) ORDER BY 1) AS lead_ids
          FROM kommo_contact_leads c LEFT JOIN named n USING (contact_id)
          WHERE c.contact_id = ANY(ARRAY(SELECT contact_id FROM kommo_contact_leads WHERE lead_ids && ${leadIds}::int[] UNION SELECT contact_id FROM pairs)))
        UPDATE kommo_contact_leads c SET lead_ids = fresh.lead_ids FROM fresh
        WHERE c.contact_id = fresh.contact_id AND c.lead_ids IS DISTINCT FROM fresh.lead_ids`;
    },

    async forgetLeads(leadIds) {
      if (leadIds.length === 0) return;
      await prisma.$executeRaw`DELETE FROM kommo_lead_states WHERE lead_id = ANY(${[...leadIds]}::int[])`;
      await prisma.$executeRaw`
        UPDATE kommo_contact_leads SET lead_ids = ARRAY(SELECT x FROM unnest(lead_ids) AS x WHERE x <> ALL(${[...leadIds]}::int[]))
        WHERE lead_ids && ${[...leadIds]}::int[]`;
    },

    async forgetContacts(contactIds) {
      if (contactIds.length) await prisma.kommoContactLeads.deleteMany({ where: { contactId: { in: [...contactIds] } } });
    },

    async contactLeads(contactIds) {
      if (contactIds.length === 0) return new Map();
      const rows = await prisma.kommoContactLeads.findMany({ where: { contactId: { in: [...contactIds] } }, select: { contactId: true, leadIds: true } });
      return new Map(rows.map((r) => [r.contactId, r.leadIds]));
    },

    async leadStates(leadIds) {
      if (leadIds.length === 0) return new Map();
      const rows = await prisma.kommoLeadState.findMany({ where: { leadId: { in: [...leadIds] } } });
      return new Map(rows.map((r) => [r.leadId, { id: r.leadId, pipelineId: r.pipelineId, statusId: r.statusId, responsibleUserId: r.responsibleUserId }]));
    },
  };
}
