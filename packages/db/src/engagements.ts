import { normalizeEmail } from "@funnelsync/config";
import type { PrismaClient } from "./generated/prisma/client";

export type EngagementKind = "opened" | "clicked" | "delivered";

export interface RecordEngagementInput {
  source: "loops" | "moosend";
  /** The event's own identity at its source (Loops: the webhook-id); a repeat is ignored. */
  eventKey: string;
  email: string;
  kind: EngagementKind;
  messageId: string;
  subject?: string | null;
  origin?: string | null;
  occurredAt: Date;
}

export interface EngagementRow {
  id: bigint;
  email: string;
  kind: EngagementKind;
  messageId: string;
  subject: string | null;
  origin: string | null;
  occurredAt: Date;
  appliedAt: Date | null;
}

/** A note or task engagement put in Kommo, so later events edit it instead of adding another. */
export interface EngagementMarkRow {
  entityType: "contacts" | "leads";
  entityId: number;
  key: string;
  /** 0 while the write was sent and its answer not yet recorded. */
  kommoId: number;
  text: string;
  /** When the mark was last written (read only). */
  updatedAt?: Date;
}

export interface EngagementRepository {
  /** Stores an engagement once; returns false when its identity was already stored. */
  record(e: RecordEngagementInput): Promise<boolean>;
  /** The newest engagement's id (0 when none): a flush takes what was stored up to here. */
  lastId(): Promise<bigint>;
  /** Stores many at once (a poll's worth); returns how many were new. */
  recordMany(events: readonly RecordEngagementInput[]): Promise<number>;
  /** Up to `limit` addresses with engagements up to `upToId` not yet in Kommo, oldest first. */
  pendingEmails(limit: number, upToId: bigint): Promise<string[]>;
  /** Every engagement of these addresses, applied or not (scores and counts are over all of them). */
  forEmails(emails: readonly string[]): Promise<EngagementRow[]>;
  markApplied(ids: readonly bigint[], at: Date): Promise<void>;
  /** The Kommo contacts forward sync linked to each address (from `contact_links`), in one query. */
  linkedContactIds(emails: readonly string[]): Promise<Map<string, number[]>>;
  marks(entityType: "contacts" | "leads", entityIds: readonly number[]): Promise<EngagementMarkRow[]>;
  saveMarks(marks: readonly EngagementMarkRow[]): Promise<void>;
  /**
   * Engagement's field writes, each with the `updated_at` Kommo answered it with, or null while the
   * write is sent and not yet answered (only the latest per entity is kept).
   */
  saveFieldWrites(entityType: "contacts" | "leads", writes: ReadonlyArray<{ id: number; updatedAt: number | null }>): Promise<void>;
  /**
   * For each webhook's entity and `updated_at`: `ours` once, when engagement's latest field write to
   * the entity is the change Kommo stamped that `updated_at` (that write coming back); the write is used
   * up, so a second webhook of the same second (someone's own edit) is not taken for it. `unanswered`
   * while a write sent within the last `unansweredMs` has no answer yet; else `other`. An entity and
   * time asked twice in one call is answered `ours` at most once.
   */
  takeFieldWriteEchoes(
    edits: ReadonlyArray<{ entityType: "contacts" | "leads"; entityId: number; updatedAt: number }>,
    unansweredMs: number,
  ): Promise<Array<"ours" | "unanswered" | "other">>;
}

export function createEngagementRepository(prisma: PrismaClient): EngagementRepository {
  const recordMany = async (events: readonly RecordEngagementInput[]): Promise<number> => {
    if (events.length === 0) return 0;
    const { count } = await prisma.engagement.createMany({
      data: events.map((e) => ({
        source: e.source,
        eventKey: e.eventKey,
        email: normalizeEmail(e.email),
        kind: e.kind,
        messageId: e.messageId,
        subject: e.subject ?? null,
        origin: e.origin ?? null,
        occurredAt: e.occurredAt,
      })),
      skipDuplicates: true,
    });
    return count;
  };

  return {
    record: async (e) => (await recordMany([e])) === 1,
    recordMany,

    async lastId() {
      const row = await prisma.engagement.findFirst({ orderBy: { id: "desc" }, select: { id: true } });
      return row?.id ?? 0n;
    },

    async pendingEmails(limit, upToId) {
      const rows = await prisma.$queryRaw<Array<{ email: string }>>`
        SELECT email FROM engagements WHERE applied_at IS NULL AND id <= ${upToId} GROUP BY email ORDER BY MIN(id) LIMIT ${limit}`;
      return rows.map((r) => r.email);
    },

    async forEmails(emails) {
      if (emails.length === 0) return [];
      const rows = await prisma.engagement.findMany({ where: { email: { in: [...emails] } }, orderBy: { id: "asc" } });
      return rows.map((r) => ({
        id: r.id,
        email: r.email,
        kind: r.kind as EngagementKind,
        messageId: r.messageId,
        subject: r.subject,
        origin: r.origin,
        occurredAt: r.occurredAt,
        appliedAt: r.appliedAt,
      }));
    },

    async markApplied(ids, at) {
      if (ids.length) await prisma.engagement.updateMany({ where: { id: { in: [...ids] } }, data: { appliedAt: at } });
    },

    async linkedContactIds(emails) {
      const links = await prisma.contactLink.findMany({ where: { email: { in: emails.map(normalizeEmail) } }, orderBy: { kommoContactId: "asc" } });
      const byEmail = new Map<string, number[]>();
      for (const link of links) byEmail.set(link.email, [...(byEmail.get(link.email) ?? []), link.kommoContactId]);
      return byEmail;
    },

    async marks(entityType, entityIds) {
      if (entityIds.length === 0) return [];
      const rows = await prisma.engagementMark.findMany({ where: { entityType, entityId: { in: [...entityIds] } } });
      return rows.map((r) => ({ entityType: r.entityType as "contacts" | "leads", entityId: r.entityId, key: r.key, kommoId: r.kommoId, text: r.text, updatedAt: r.updatedAt }));
    },

    async saveFieldWrites(entityType, given) {
      const writes = [...new Map(given.map((w) => [w.id, w])).values()];
      if (writes.length === 0) return;
      await prisma.$executeRaw`
        INSERT INTO engagement_field_writes (entity_type, entity_id, kommo_updated_at, written_at)
        SELECT ${entityType}, entity_id, kommo_updated_at, now() FROM unnest(${writes.map((w) => w.id)}::int[], ${writes.map((w) => w.updatedAt)}::int[]) AS t(entity_id, kommo_updated_at)
        ON CONFLICT (entity_type, entity_id) DO UPDATE SET kommo_updated_at = EXCLUDED.kommo_updated_at, written_at = now()`;
    },

    async takeFieldWriteEchoes(edits, unansweredMs) {
      if (edits.length === 0) return [];
      // The outer query sees the table as it was before the DELETE: unanswered writes are still there.
      const rows = await prisma.$queryRaw<Array<{ i: number; ours: boolean; unanswered: boolean }>>`
        WITH asked AS (
          SELECT * FROM unnest(${edits.map((e) => e.entityType)}::text[], ${edits.map((e) => e.entityId)}::int[], ${edits.map((e) => e.updatedAt)}::int[])
            WITH ORDINALITY AS a(entity_type, entity_id, kommo_updated_at, i)),
        taken AS (
          DELETE FROM engagement_field_writes w USING asked a
          WHERE w.entity_type = a.entity_type AND w.entity_id = a.entity_id AND w.kommo_updated_at = a.kommo_updated_at
          RETURNING w.entity_type, w.entity_id, w.kommo_updated_at)
        SELECT a.i::int AS i,
          EXISTS (SELECT 1 FROM taken t WHERE (t.entity_type, t.entity_id, t.kommo_updated_at) = (a.entity_type, a.entity_id, a.kommo_updated_at)) AS ours,
          EXISTS (SELECT 1 FROM engagement_field_writes w WHERE w.entity_type = a.entity_type AND w.entity_id = a.entity_id
                  AND w.kommo_updated_at IS NULL AND w.written_at > now() - ${unansweredMs} * interval '1 millisecond') AS unanswered
        FROM asked a`;
      const answers: Array<"ours" | "unanswered" | "other"> = edits.map(() => "other");
      const taken = new Set<string>();
      for (const row of rows.sort((a, b) => a.i - b.i)) {
        const edit = edits[row.i - 1]!;
        const key = `${edit.entityType}/${edit.entityId}/${edit.updatedAt}`;
        if (row.ours && !taken.has(key)) {
          taken.add(key);
          answers[row.i - 1] = "ours";
        } else if (row.unanswered) answers[row.i - 1] = "unanswered";
      }
      return answers;
    },

    async saveMarks(given) {
      // One statement per batch (up to 250): upserts one by one in a transaction can outlast Prisma's 5 s
      // transaction limit under load. A mark named twice keeps the later one, as Postgres takes each row once.
      const marks = [...new Map(given.map((m) => [`${m.entityType}/${m.entityId}/${m.key}`, m])).values()];
      if (marks.length === 0) return;
      await prisma.$executeRaw`
        INSERT INTO engagement_marks (entity_type, entity_id, key, kommo_id, text, updated_at)
        SELECT entity_type, entity_id, key, kommo_id, text, now()
        FROM unnest(${marks.map((m) => m.entityType)}::text[], ${marks.map((m) => m.entityId)}::int[], ${marks.map((m) => m.key)}::text[],
                    ${marks.map((m) => m.kommoId)}::int[], ${marks.map((m) => m.text)}::text[]) AS t(entity_type, entity_id, key, kommo_id, text)
        ON CONFLICT (entity_type, entity_id, key) DO UPDATE SET kommo_id = EXCLUDED.kommo_id, text = EXCLUDED.text, updated_at = now()`;
    },
  };
}
