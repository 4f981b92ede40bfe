import type { PrismaClient } from "./generated/prisma/client";

export interface PruneResult {
  receivedEvents: number;
  syncOutcomes: number;
  engagements: number;
  engagementMarks: number;
  /** contacts' leads and leads' stages not read from Kommo since, and engagement field writes not echoed since */
  kommoRecords: number;
}

export interface RetentionRepository {
  /**
   * Deletes received events, outcome rows, engagements (by when they happened, written to Kommo or
   * not: one that old is not written any more) and engagement marks (by their last write) older than
   * `before`, a small batch per statement, so that no lock is held for long and the worker's writes go
   * on meanwhile; and the Kommo records (contacts' leads, leads' stages, engagement's field writes) not
   * written since, so none is trusted for longer. Consent is never pruned.
   */
  prune(before: Date, options?: { batchSize?: number }): Promise<PruneResult>;
}

/** Rows per DELETE: each one commits in tens of milliseconds. */
const PRUNE_BATCH = 5_000;

export function createRetentionRepository(prisma: PrismaClient): RetentionRepository {
  // In id order: old rows have the lowest ids, so each batch is found at the front of the primary key.
  const pruneEvents = (before: Date, limit: number) => prisma.$executeRaw`
    DELETE FROM received_events WHERE id IN (
      SELECT id FROM received_events WHERE received_at < ${before} ORDER BY id LIMIT ${limit})`;
  const pruneOutcomes = (before: Date, limit: number) => prisma.$executeRaw`
    DELETE FROM sync_outcomes WHERE id IN (
      SELECT id FROM sync_outcomes WHERE updated_at < ${before} ORDER BY id LIMIT ${limit})`;

  const pruneEngagements = (before: Date, limit: number) => prisma.$executeRaw`
    DELETE FROM engagements WHERE id IN (
      SELECT id FROM engagements WHERE occurred_at < ${before} ORDER BY id LIMIT ${limit})`;
  // A pruned mark only means that a later open of that message adds a new note instead of editing the old one.
  const pruneMarks = (before: Date, limit: number) => prisma.$executeRaw`
    DELETE FROM engagement_marks WHERE (entity_type, entity_id, key) IN (
      SELECT entity_type, entity_id, key FROM engagement_marks WHERE updated_at < ${before} LIMIT ${limit})`;

  // A record not read since is read again from Kommo when engagement next needs it.
  const pruneContactLeads = (before: Date, limit: number) => prisma.$executeRaw`
    DELETE FROM kommo_contact_leads WHERE contact_id IN (
      SELECT contact_id FROM kommo_contact_leads WHERE recorded_at < ${before} LIMIT ${limit})`;
  const pruneLeadStates = (before: Date, limit: number) => prisma.$executeRaw`
    DELETE FROM kommo_lead_states WHERE lead_id IN (
      SELECT lead_id FROM kommo_lead_states WHERE recorded_at < ${before} LIMIT ${limit})`;
  const pruneFieldWrites = (before: Date, limit: number) => prisma.$executeRaw`
    DELETE FROM engagement_field_writes WHERE (entity_type, entity_id) IN (
      SELECT entity_type, entity_id FROM engagement_field_writes WHERE written_at < ${before} LIMIT ${limit})`;

  async function drain(batch: (before: Date, limit: number) => Promise<number>, before: Date, limit: number): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await batch(before, limit);
      total += deleted;
      if (deleted < limit) return total;
    }
  }

  return {
    async prune(before, options = {}) {
      const limit = options.batchSize ?? PRUNE_BATCH;
      return {
        receivedEvents: await drain(pruneEvents, before, limit),
        syncOutcomes: await drain(pruneOutcomes, before, limit),
        engagements: await drain(pruneEngagements, before, limit),
        engagementMarks: await drain(pruneMarks, before, limit),
        kommoRecords:
          (await drain(pruneContactLeads, before, limit)) + (await drain(pruneLeadStates, before, limit)) + (await drain(pruneFieldWrites, before, limit)),
      };
    },
  };
}
